using System.Net;
using System.Net.Sockets;
using Tunnel.Tests.Support;

namespace Tunnel.EndToEnd.Support;

/// <summary>The client end of a full-duplex transfer: sends a seeded payload and half-closes while reading
/// everything the far end sends until it closes, so both directions are in flight at once.</summary>
internal static class DuplexTransfer
{
    /// <param name="port">tunnel-client's port on loopback.</param>
    /// <param name="sendLength">Bytes to send.</param>
    /// <param name="seed">The payload's seed.</param>
    /// <param name="deadline">Bounds the transfer.</param>
    /// <param name="halfCloseLast">Half-close only once everything was received (both directions still overlap):
    /// for a far end that cannot finish a download after the upload has ended (stunnel as the server, see
    /// docs/operations.md).</param>
    public static async Task<(string Sha256, long Length)> RunAsync(int port, long sendLength, int seed, CancellationToken deadline,
        bool halfCloseLast = false)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), deadline);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var receive = Payload.ReceiveAsync(stream, deadline);
        await Payload.SendAsync(stream, sendLength, seed, cancellationToken: deadline);
        if (halfCloseLast)
        {
            var received = await receive;
            socket.Shutdown(SocketShutdown.Send);
            return received;
        }

        socket.Shutdown(SocketShutdown.Send);
        return await receive;
    }
}
