using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Tunnel.Client.Options;
using Tunnel.Common;
using Tunnel.Net;

namespace Tunnel.Client.Dialing;

/// <summary>Opens a tunnel through an HTTP proxy with <c>CONNECT</c> (RFC 9110 §9.3.6), with Basic authentication
/// when configured, and explains a refusal (407, 403, anything else) in words the site's network team can act on.</summary>
internal static class HttpConnectTunnel
{
    private const int MaxResponseHead = 16 * 1024;

    public static async Task EstablishAsync(Socket socket, HostPort target, OutboundProxyOptions proxy, CancellationToken cancellationToken)
    {
        var request = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"CONNECT {target} HTTP/1.1\r\n")
            .Append(CultureInfo.InvariantCulture, $"Host: {target}\r\n")
            .Append(CultureInfo.InvariantCulture, $"User-Agent: tunnel-client/{VersionInfo.Version}\r\n");
        if (proxy.User is { } user)
        {
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{proxy.Password}"));
            request.Append(CultureInfo.InvariantCulture, $"Proxy-Authorization: Basic {token}\r\n");
        }

        request.Append("\r\n");
        await socket.SendAsync(Encoding.ASCII.GetBytes(request.ToString()), SocketFlags.None, cancellationToken);

        var (head, trailing) = await ReadHeadAsync(socket, proxy, cancellationToken);
        var statusLine = head[..head.IndexOf("\r\n", StringComparison.Ordinal)];
        var parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) ||
            !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            throw new OutboundProxyException($"outbound proxy {proxy.Address} answered CONNECT with something that is not HTTP ('{Printable(statusLine)}'); is it an HTTP proxy?");
        }

        if (status is >= 200 and < 300)
        {
            if (trailing)
            {
                throw new OutboundProxyException($"outbound proxy {proxy.Address} sent data after its CONNECT answer, before the TLS handshake began");
            }

            return;
        }

        var reason = parts.Length > 2 ? parts[2] : "";
        throw new OutboundProxyException(status switch
        {
            407 when proxy.User is null =>
                $"outbound proxy {proxy.Address} requires authentication (407 {reason}); set proxyUser and proxyPassword (or TUNNEL_PROXYPASSWORD)",
            407 => $"outbound proxy {proxy.Address} rejected the credentials of '{proxy.User}' (407 {reason}); check proxyUser and proxyPassword",
            403 => $"outbound proxy {proxy.Address} refuses CONNECT to {target} (403 {reason}); ask its administrators to allow {target}",
            _ => $"outbound proxy {proxy.Address} refused CONNECT to {target}: {status} {reason}",
        }, status);
    }

    /// <summary>Reads the response head, and says whether more bytes came with it (a body, on a refusal; on success
    /// there must be none, since the server sends nothing before our ClientHello).</summary>
    private static async Task<(string Head, bool Trailing)> ReadHeadAsync(Socket socket, OutboundProxyOptions proxy, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxResponseHead];
        var length = 0;
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new OutboundProxyException($"outbound proxy {proxy.Address} closed the connection without answering CONNECT");
            }

            length += read;
            var end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return (Encoding.ASCII.GetString(buffer, 0, end + 2), end + 4 != length);
            }

            if (length == buffer.Length)
            {
                throw new OutboundProxyException($"outbound proxy {proxy.Address} sent a response head longer than {MaxResponseHead} bytes");
            }
        }
    }

    private static string Printable(string text) =>
        new(text.Take(80).Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray());
}
