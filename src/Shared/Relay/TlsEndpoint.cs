using System.Net.Security;
using System.Net.Sockets;

namespace Tunnel.Relay;

/// <summary>A TLS side of a relay. Half-close is a close_notify alert (TLS 1.3 lets the peer keep sending after it,
/// RFC 8446 §6.1); abort is an RST with no alert.</summary>
/// <remarks>No TCP FIN follows the close_notify until the connection is closed: HTTP proxies on the path (a site's
/// outbound Squid) tear a CONNECT tunnel down in both directions when one side sends FIN, which would cut the
/// answer still flowing back. The close_notify carries the half-close end to end, inside the TLS stream.</remarks>
internal sealed class TlsEndpoint : IRelayEndpoint
{
    private readonly CloseNotifyGate _gate = new();
    private int _writesCompleted;

    /// <summary>A TLS endpoint over <paramref name="transport"/> (the socket's stream, owned and disposed with it);
    /// authenticate <see cref="Tls"/>, then read and write <see cref="Stream"/>.</summary>
    public TlsEndpoint(Socket socket, Stream transport)
    {
        Socket = socket;
        var received = new TlsReceiveBuffer(transport);
        Tls = new SslStream(_gate.Transport(received), leaveInnerStreamOpen: false);
        Stream = _gate.Reads(Tls, received);
    }

    public Socket Socket { get; }

    /// <summary>For the handshake and what it negotiated; data goes through <see cref="Stream"/>.</summary>
    public SslStream Tls { get; }

    public Stream Stream { get; }

    /// <summary>Sends close_notify; idempotent.</summary>
    public async ValueTask CompleteWritesAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _writesCompleted, 1) == 0)
        {
            await _gate.ShutdownAsync(Tls.ShutdownAsync, cancellationToken);
        }
    }

    public void Abort() => SocketClose.Reset(Socket);

    public async ValueTask DisposeAsync()
    {
        await Tls.DisposeAsync();
        Socket.Dispose();
    }
}
