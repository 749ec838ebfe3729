using System.Net.Sockets;

namespace Tunnel.Relay;

/// <summary>Abortive close: SO_LINGER with a zero timeout makes close() send an RST instead of a FIN.</summary>
internal static class SocketClose
{
    public static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(enable: true, seconds: 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed or reset by the peer: nothing left to abort.
        }

        socket.Dispose();
    }
}
