using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tunnel.EndToEnd.Support;

/// <summary>A plain-HTTP GET sent to a proxy (absolute URI, <c>Connection: close</c>), as the inner Squid sends one to
/// its parent, read to the end of the stream and parsed. A reset, a hang (the caller's token) or a body shorter than
/// its Content-Length throws: only a complete HTTP answer is an answer.</summary>
internal static class RawProxyGet
{
    public static async Task<RawHttpResponse> SendAsync(IPEndPoint proxy, string url, LoadAttempt? attempt, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy, cancellationToken);
        attempt?.LocalPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var uri = new Uri(url);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {url} HTTP/1.1\r\nHost: {uri.Authority}\r\nConnection: close\r\n\r\n"), cancellationToken);
        using var received = new MemoryStream();
        await stream.CopyToAsync(received, cancellationToken);
        return Parse(received.ToArray());
    }

    private static RawHttpResponse Parse(byte[] bytes)
    {
        var end = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            throw new InvalidDataException($"no complete HTTP head in {bytes.Length} bytes: '{Encoding.ASCII.GetString(bytes[..Math.Min(bytes.Length, 80)])}'");
        }

        var lines = Encoding.ASCII.GetString(bytes, 0, end).Split("\r\n");
        var status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal) ||
            !int.TryParse(status[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            throw new InvalidDataException($"not an HTTP status line: '{lines[0]}'");
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        var body = bytes[(end + 4)..];
        if (headers.TryGetValue("Content-Length", out var length) && long.Parse(length, CultureInfo.InvariantCulture) != body.Length)
        {
            throw new InvalidDataException($"'{lines[0]}' with Content-Length {length} but {body.Length} bytes of body");
        }

        return new RawHttpResponse(code, lines[0], headers, body);
    }
}

internal sealed record RawHttpResponse(int Status, string StatusLine, IReadOnlyDictionary<string, string> Headers, byte[] Body);
