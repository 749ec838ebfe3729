using System.Net.Security;
using System.Net.Sockets;

namespace Tunnel.Relay;

/// <summary>A TLS side of a relay. Half-close is a close_notify alert (TLS 1.3 lets the peer keep sending after it,
/// RFC 8446 §6.1); abort is an RST with no alert.</summary>
/// <remarks>No TCP FIN follows the close_notify until the connection is closed: HTTP proxies on the path (a site's
/// outbound Squid) tear a CONNECT tunnel down in both directions when one side sends FIN, which would cut the
/// answer still flowing back. The close_notify carries the half-close end to end, inside the TLS stream.</remarks>
internal sealed class TlsEndpoint(Socket socket, SslStream tls) : IRelayEndpoint
{
    public Socket Socket => socket;

    public SslStream Tls => tls;

    public Stream Stream => tls;

    private int _writesCompleted;

    /// <summary>Sends close_notify; idempotent.</summary>
    public async ValueTask CompleteWritesAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _writesCompleted, 1) == 0)
        {
            await tls.ShutdownAsync().WaitAsync(cancellationToken);
        }
    }

    public void Abort() => SocketClose.Reset(socket);

    public async ValueTask DisposeAsync()
    {
        await tls.DisposeAsync();
        socket.Dispose();
    }
}
