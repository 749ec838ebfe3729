using System.Net;
using System.Net.Sockets;
using Tunnel.Tests.Support;

namespace Tunnel.EndToEnd.Support;

/// <summary>The client end of a full-duplex transfer: sends a seeded payload and half-closes while reading
/// everything the far end sends until it closes, so both directions are in flight at once.</summary>
internal static class DuplexTransfer
{
    public static async Task<(string Sha256, long Length)> RunAsync(int port, long sendLength, int seed, CancellationToken deadline)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), deadline);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var receive = Payload.ReceiveAsync(stream, deadline);
        await Payload.SendAsync(stream, sendLength, seed, cancellationToken: deadline);
        socket.Shutdown(SocketShutdown.Send);
        return await receive;
    }
}
