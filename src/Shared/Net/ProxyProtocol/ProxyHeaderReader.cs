using System.Buffers;
using System.Net.Sockets;

namespace Tunnel.Net.ProxyProtocol;

/// <summary>Reads the PROXY header at the start of an accepted connection. The caller bounds the wait with its
/// token (tunnel-server uses the handshake timeout, so a connection that sends nothing is reaped like one that never
/// finishes its TLS handshake).</summary>
internal static class ProxyHeaderReader
{
    /// <summary>Returns the header and the bytes that arrived after it in the same reads (typically the start of the
    /// TLS ClientHello), which the caller must read before the socket's own stream. Reading more than the header and
    /// handing the rest back costs one receive per connection, where reading exactly the header would cost one per
    /// byte of a v1 line. Throws <see cref="ProxyHeaderException"/> when the connection sends anything else or closes
    /// first, and <see cref="OperationCanceledException"/> when the token fires.</summary>
    public static async Task<(ProxyHeader Header, byte[] Following)> ReadAsync(Socket socket, ProxyProtocolMode accept, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ProxyHeaderParser.MaxLength);
        try
        {
            var filled = 0;
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(filled, ProxyHeaderParser.MaxLength - filled), SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    throw new ProxyHeaderException(filled == 0
                        ? "the connection closed before sending a PROXY protocol header"
                        : $"the connection closed after {filled} bytes, in the middle of a PROXY protocol header");
                }

                filled += read;
                switch (ProxyHeaderParser.TryParse(buffer.AsSpan(0, filled), accept, out var header, out var error))
                {
                    case ProxyParseStatus.Complete:
                        return (header!, buffer.AsSpan(header!.Length, filled - header.Length).ToArray());
                    case ProxyParseStatus.Invalid:
                        throw new ProxyHeaderException(error);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
