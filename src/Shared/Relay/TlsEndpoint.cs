using System.Net.Security;
using System.Net.Sockets;

namespace Tunnel.Relay;

/// <summary>A TLS side of a relay. Half-close is a close_notify alert followed by a FIN (TLS 1.3 allows the peer
/// to keep sending after it, RFC 8446 §6.1); abort is an RST with no alert.</summary>
internal sealed class TlsEndpoint(Socket socket, SslStream tls) : IRelayEndpoint
{
    public Socket Socket => socket;

    public SslStream Tls => tls;

    public Stream Stream => tls;

    private int _writesCompleted;

    /// <summary>Sends close_notify then FIN; idempotent.</summary>
    public async ValueTask CompleteWritesAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _writesCompleted, 1) == 0)
        {
            await tls.ShutdownAsync().WaitAsync(cancellationToken);
            socket.Shutdown(SocketShutdown.Send);
        }
    }

    public void Abort() => SocketClose.Reset(socket);

    public async ValueTask DisposeAsync()
    {
        await tls.DisposeAsync();
        socket.Dispose();
    }
}
