using System.Text;

namespace Tunnel.Admin;

/// <summary>One HTTP/1.x request head as the admin endpoint reads it: the method, the path (query left out), whether the
/// connection may carry another request after this one, and the status to answer with when the head is not one it
/// can serve. Only what three read-only GET resources need is understood; every other header is ignored.</summary>
/// <param name="Method">As sent (methods are case-sensitive).</param>
/// <param name="Path">The request target's path, without query or fragment.</param>
/// <param name="KeepAlive">HTTP/1.1 without <c>Connection: close</c> and without a body: the next request may follow
/// on the same connection. HTTP/1.0 and any request with a body close after the answer.</param>
/// <param name="Error">0 for a head that can be served; otherwise the status to answer before closing (400, 505).</param>
internal readonly record struct AdminRequest(string Method, string Path, bool KeepAlive, int Error)
{
    /// <summary>The longest request head read (request line and headers); a longer one is answered 431.</summary>
    public const int MaxHeadBytes = 8 * 1024;

    private static AdminRequest Bad(int status) => new("", "", false, status);

    /// <summary>Where the head that starts <paramref name="buffer"/> ends (just past its empty line), or -1 while it is
    /// incomplete. Lines end with CRLF or, leniently, a bare LF.</summary>
    public static int HeadLength(ReadOnlySpan<byte> buffer)
    {
        for (var i = buffer.IndexOf((byte)'\n'); i >= 0 && i < buffer.Length - 1;)
        {
            var next = i + 1;
            if (buffer[next] == '\n')
            {
                return next + 1;
            }

            if (buffer[next] == '\r' && next + 1 < buffer.Length && buffer[next + 1] == '\n')
            {
                return next + 2;
            }

            var more = buffer[next..].IndexOf((byte)'\n');
            i = more < 0 ? -1 : next + more;
        }

        return -1;
    }

    /// <summary>Reads a complete head (<see cref="HeadLength"/> bytes).</summary>
    public static AdminRequest Parse(ReadOnlySpan<byte> head)
    {
        if (!Ascii.IsValid(head))
        {
            return Bad(400);
        }

        var lines = Encoding.ASCII.GetString(head).Split('\n');
        var requestLine = lines[0].TrimEnd('\r').Split(' ');
        if (requestLine.Length != 3 || requestLine[0].Length == 0 || requestLine[1].Length == 0)
        {
            return Bad(400);
        }

        var (method, target, version) = (requestLine[0], requestLine[1], requestLine[2]);
        if (!version.StartsWith("HTTP/", StringComparison.Ordinal))
        {
            return Bad(400);
        }

        if (version is not ("HTTP/1.1" or "HTTP/1.0"))
        {
            return Bad(505);
        }

        if (PathOf(target) is not { } path)
        {
            return Bad(400);
        }

        var keepAlive = version == "HTTP/1.1";
        foreach (var raw in lines.AsSpan(1))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            // A field name is a token: no space before the colon, and no folded continuation line (RFC 9112 5.1, 5.2).
            if (colon <= 0 || line[0] is ' ' or '\t' || line[colon - 1] is ' ' or '\t')
            {
                return Bad(400);
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase)
                && value.Split(',').Any(t => t.Trim().Equals("close", StringComparison.OrdinalIgnoreCase)))
            {
                keepAlive = false;
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
                || (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && value != "0"))
            {
                // A body is never read: answering, then closing, keeps it from being taken for the next request.
                keepAlive = false;
            }
        }

        return new(method, path, keepAlive, 0);
    }

    /// <summary>The path of an origin-form (<c>/metrics?x</c>) or absolute-form (<c>http://host/metrics</c>) target.</summary>
    private static string? PathOf(string target)
    {
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            var authority = target.IndexOf("//", StringComparison.Ordinal) + 2;
            var slash = target.IndexOf('/', authority);
            target = slash < 0 ? "/" : target[slash..];
        }

        if (!target.StartsWith('/'))
        {
            return null;
        }

        var end = target.IndexOfAny(['?', '#']);
        return end < 0 ? target : target[..end];
    }
}
