namespace Tunnel.Http;

/// <summary>Recognises the start of an HTTP proxy request (<c>CONNECT host:port HTTP/1.1</c>, or a request with an
/// absolute URI such as <c>GET http://host/ HTTP/1.1</c>), so that a failure can be answered in HTTP instead of by a
/// silent close that Squid would turn into "200 Connection established" and a baffling TLS error.</summary>
internal static class ProxyRequest
{
    private const int MaxMethodLength = 16;

    public static bool IsProxyRequest(ReadOnlySpan<byte> start)
    {
        var space = start.IndexOf((byte)' ');
        if (space is <= 0 or > MaxMethodLength)
        {
            return false;
        }

        foreach (var c in start[..space])
        {
            if (c is < (byte)'A' or > (byte)'Z')
            {
                return false;
            }
        }

        var target = start[(space + 1)..];
        if (start[..space].SequenceEqual("CONNECT"u8))
        {
            return target.Length > 0 && target[0] != (byte)' ';
        }

        // An absolute URI: scheme "://" (RFC 9112 §3.2.2, absolute-form is what a proxy receives).
        var colon = target.IndexOf("://"u8);
        if (colon <= 0)
        {
            return false;
        }

        foreach (var c in target[..colon])
        {
            if (!(char.IsAsciiLetterOrDigit((char)c) || c is (byte)'+' or (byte)'-' or (byte)'.'))
            {
                return false;
            }
        }

        return true;
    }
}
