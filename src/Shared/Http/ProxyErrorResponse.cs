using System.Buffers;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Tunnel.Net;
using Tunnel.Relay;

namespace Tunnel.Http;

/// <summary>Writes an HTTP error answer (502 or 503 with a one-line reason) to a proxy request the tunnel could not
/// carry, then closes gracefully so the peer reads the answer before the connection ends.</summary>
internal static class ProxyErrorResponse
{
    public const int BadGateway = 502;
    public const int ServiceUnavailable = 503;

    /// <summary>The response bytes: status line, a reason header, and the reason as a plain-text body.</summary>
    public static byte[] Build(int status, string reason)
    {
        var line = reason.ReplaceLineEndings(" ").Trim();
        var body = line + "\n";
        var statusText = status == ServiceUnavailable ? "Service Unavailable" : "Bad Gateway";
        var header =
            $"HTTP/1.1 {status} {statusText}\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\n" +
            $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n" +
            $"X-Tunnel-Error: {Ascii(line)}\r\n" +
            "Connection: close\r\n" +
            "\r\n";
        return Encoding.UTF8.GetBytes(header + body);
    }

    /// <summary>Answers on a relay endpoint (plain or TLS): reads the rest of the request head (so that closing
    /// does not reset the connection and discard the answer), writes the response, half-closes, and waits up to
    /// <paramref name="linger"/> for the peer to close.</summary>
    public static async Task RespondAsync(IRelayEndpoint endpoint, ReadOnlyMemory<byte> alreadyRead, int status, string reason,
        TimeSpan linger, TimeProvider time, CancellationToken cancellationToken)
    {
        using var scope = new TimeoutScope(linger, time, cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            var stream = endpoint.Stream;
            var seen = new HeadEndDetector();
            if (!seen.Feed(alreadyRead.Span))
            {
                var total = alreadyRead.Length;
                int read;
                while (total < MaxHead && (read = await stream.ReadAsync(buffer, scope.Token)) > 0)
                {
                    total += read;
                    if (seen.Feed(buffer.AsSpan(0, read)))
                    {
                        break;
                    }
                }
            }

            await stream.WriteAsync(Build(status, reason), scope.Token);
            await endpoint.CompleteWritesAsync(scope.Token);
            while (await stream.ReadAsync(buffer, scope.Token) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or AuthenticationException)
        {
            // The peer went away or lingered too long: the answer was best effort.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private const int MaxHead = 64 * 1024;

    /// <summary>Finds the blank line that ends an HTTP head across read boundaries.</summary>
    private struct HeadEndDetector
    {
        private int _matched;

        public bool Feed(ReadOnlySpan<byte> data)
        {
            ReadOnlySpan<byte> end = "\r\n\r\n"u8;
            foreach (var b in data)
            {
                _matched = b == end[_matched] ? _matched + 1 : (b == end[0] ? 1 : 0);
                if (_matched == end.Length)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private static string Ascii(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            builder.Append(c is >= ' ' and <= '~' ? c : '?');
        }

        return builder.ToString();
    }
}
