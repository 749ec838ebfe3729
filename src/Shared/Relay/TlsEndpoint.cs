using System.Net.Security;
using System.Net.Sockets;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Relay;

/// <summary>A TLS side of a relay. Half-close is a close_notify alert (TLS 1.3 lets the peer keep sending after it,
/// RFC 8446 §6.1); abort is an RST with no alert.</summary>
/// <remarks>No TCP FIN follows the close_notify until the connection is closed: HTTP proxies on the path (a site's
/// outbound Squid) tear a CONNECT tunnel down in both directions when one side sends FIN, which would cut the
/// answer still flowing back. The close_notify carries the half-close end to end, inside the TLS stream.</remarks>
internal sealed class TlsEndpoint : IRelayEndpoint
{
    private readonly CloseNotifyGate _gate = new();
    private readonly TlsReceiveBuffer _received;
    private readonly TlsSendBuffer _sent;
    private int _writesCompleted;

    /// <summary>A TLS endpoint over <paramref name="transport"/> (the socket's stream, owned and disposed with it);
    /// authenticate <see cref="Tls"/>, then read and write <see cref="Stream"/>.</summary>
    public TlsEndpoint(Socket socket, Stream transport)
    {
        Socket = socket;
        _received = new TlsReceiveBuffer(transport);
        _sent = new TlsSendBuffer(_received);
        Tls = new SslStream(_gate.Transport(_sent), leaveInnerStreamOpen: false);
        Stream = new ApplicationStream(_gate.Reads(Tls), _received, _sent);
    }

    public Socket Socket { get; }

    /// <summary>What the handshake negotiated; data goes through <see cref="Stream"/>.</summary>
    public SslStream Tls { get; }

    /// <summary>The client's handshake; then OpenSSL frees the connection's record buffers whenever it is idle.</summary>
    public async Task AuthenticateAsClientAsync(SslClientAuthenticationOptions options, CancellationToken cancellationToken)
    {
        await OffTheEventThreadAsync(() => Tls.AuthenticateAsClientAsync(options, cancellationToken));
        OpenSslBuffers.ReleaseWhenIdle(Tls);
    }

    /// <summary>The server's handshake; then OpenSSL frees the connection's record buffers whenever it is idle.</summary>
    public async Task AuthenticateAsServerAsync(SslServerAuthenticationOptions options, CancellationToken cancellationToken)
    {
        await OffTheEventThreadAsync(() => Tls.AuthenticateAsServerAsync(options, cancellationToken));
        OpenSslBuffers.ReleaseWhenIdle(Tls);
    }

    /// <summary>Runs a handshake on thread-pool threads only. Socket completions run inline on the socket engine's
    /// event thread (Tunnel.Runtime.SocketCompletions), which serves every other connection's reads: a
    /// handshake's key exchange, signature and chain check (about a millisecond of CPU) run there held all of them up
    /// (the trace in docs/operations.md, "Footprint").</summary>
    private async Task OffTheEventThreadAsync(Func<Task> handshake)
    {
        _received.ReturnOnThreadPool = true;
        try
        {
            await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            await handshake();
        }
        finally
        {
            _received.ReturnOnThreadPool = false;
        }
    }

    public Stream Stream { get; }

    /// <summary>Whether the handshake resumed a TLS session (false where OpenSSL cannot be asked).</summary>
    public bool Resumed => OpenSslTickets.Resumed(Tls);

    /// <summary>OpenSSL keeps this connection's record buffers for its whole life (a busy connection): undoes what the
    /// handshake methods set. Call while nothing reads or writes.</summary>
    public void KeepBuffers() => OpenSslBuffers.Keep(Tls);

    /// <summary>Holds the records of the writes that follow until <see cref="SendGatheredAsync"/>, so that they leave
    /// in one socket write (a multiplexed connection's writer, with several frames queued).</summary>
    public void GatherWrites() => _sent.Gather();

    /// <summary>Sends the records held since <see cref="GatherWrites"/>.</summary>
    public ValueTask SendGatheredAsync(CancellationToken cancellationToken) => _sent.SendGatheredAsync(cancellationToken);

    /// <summary>Drops the records held since <see cref="GatherWrites"/> (the connection failed).</summary>
    public void DiscardGathered() => _sent.Discard();

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

    /// <summary>What the application reads and writes: <paramref name="tls"/> (the SslStream behind the gate), telling
    /// what <paramref name="received"/> holds, with the records of one write sent together.</summary>
    private sealed class ApplicationStream(Stream tls, TlsReceiveBuffer received, TlsSendBuffer sent) : ReadWrappingStream(tls), IReadAhead
    {
        public bool MoreIsHere => received.MoreIsHere;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Inner.ReadAsync(buffer, cancellationToken);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            sent.WriteGatheredAsync(Inner, buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
