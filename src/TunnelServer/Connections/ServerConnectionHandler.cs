using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tunnel.Admission;
using Tunnel.Common;
using Tunnel.Hosting;
using Tunnel.Logging;
using Tunnel.Mux;
using Tunnel.Relay;
using Tunnel.Server.Decoy;
using Tunnel.Server.Handshake;
using Tunnel.Server.Multiplexing;
using Tunnel.Server.Options;
using Tunnel.Server.Tls;
using Tunnel.Server.Upstream;
using Tunnel.Tls;

namespace Tunnel.Server.Connections;

/// <summary>The flow of one accepted connection: <see cref="ClientHandshake"/> admits and authenticates it (PROXY
/// header, per-source and handshake-rate limits, TLS with the client certificate judged); a client that is not
/// authenticated goes to the decoy when one is configured; the per-identity limit; then (on the first byte, by
/// default) either a <see cref="MultiplexedClient"/> session or the <see cref="UpstreamForwarder"/>. Nothing reaches
/// the upstream before the client is authenticated.</summary>
internal sealed class ServerConnectionHandler
{
    private readonly ServerTunnelOptions _options;
    private readonly ConnectionAdmission _admission;
    private readonly ClientHandshake _handshake;
    private readonly DecoyForwarder? _decoy;
    private readonly UpstreamForwarder _forwarder;
    private readonly MultiplexedClient _multiplexed;
    private readonly DaemonContext _context;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationToken _abort;
    private readonly TimeSpan _drainIdle;

    public ServerConnectionHandler(ServerTunnelOptions options, Reloadable<ServerTlsState> tls, UpstreamConnector upstream, ConnectionAdmission admission,
        DaemonContext context)
    {
        _options = options;
        _admission = admission;
        _decoy = options.Edge.Decoy is { } decoy ? new DecoyForwarder(decoy, options, context) : null;
        _handshake = new ClientHandshake(options, tls, admission, completeRefused: _decoy is not null, context);
        _context = context;
        _logger = context.Logger;
        _time = context.Time;
        _abort = context.Abort;
        var series = context.Metrics.For(options.Name);
        var relayOptions = options.Timeouts.ToRelayOptions() with { CountUp = series.BytesUp.Add, CountDown = series.BytesDown.Add };
        _drainIdle = relayOptions.DrainIdle;
        _forwarder = new UpstreamForwarder(options, upstream, relayOptions, context);
        _multiplexed = new MultiplexedClient(options, tls, admission, _forwarder, _handshake.Failures, _drainIdle, context);
    }

    public async Task HandleAsync(Socket socket)
    {
        using var record = _context.NewRecord(_options.Name, socket.RemoteEndPoint?.ToString() ?? "?");
        if (await _handshake.AuthenticateAsync(socket, record) is not { } handshake)
        {
            socket.Dispose();
            return;
        }

        await using var client = handshake.Client;
        if (!handshake.Verdict.Ok)
        {
            // Only reachable with a decoy: without one the handshake itself fails.
            await _decoy!.RelayAsync(client, record, handshake.Verdict);
            return;
        }

        // Closed like a refused certificate (no alert, no close_notify): the client learns nothing more.
        if (_admission.AdmitIdentity(handshake.Verdict.PeerName, record) is not { } identityLease)
        {
            return;
        }

        record.Hold(identityLease);
        record.Metrics.Accepted(AcceptOutcome.Success).Increment();
        await ServeAsync(handshake, record);
    }

    private async Task ServeAsync(CompletedHandshake handshake, ConnectionRecord record)
    {
        var client = handshake.Client;
        using var first = _options.Dial == UpstreamDial.FirstByte ? await ReadFirstChunkAsync(client, record) : null;
        if (_options.Dial == UpstreamDial.FirstByte && first is null)
        {
            return;
        }

        if (first is not null && _options.Multiplex.Enabled && MuxProtocol.StartsWithPreamble(first.Data.Span))
        {
            await _multiplexed.ServeAsync(client, first, handshake.Addresses, record, handshake.Verified!);
            return;
        }

        await _forwarder.ForwardAsync(client, client.Tls, first, handshake.Addresses, record);
    }

    /// <summary>Waits (up to the idle timeout) for the client's first bytes, holding no buffer while it waits (a
    /// client's warm pool keeps connections here); null when the client closed without sending anything, or failed.</summary>
    private async Task<FirstChunk?> ReadFirstChunkAsync(TlsEndpoint client, ConnectionRecord record)
    {
        // An authenticated connection that has sent nothing (a client's warm pool) is not in flight: a drain
        // closes it at once, with close_notify, so the client simply drops it from its pool. One whose handshake has
        // only just finished is a request whose first bytes are on their way: it gets a moment to send them.
        using var drain = new DrainGrace(_drainIdle, _time, _context.Draining);
        using var scope = new Net.TimeoutScope(_options.Timeouts.Idle, _time, _abort, drain.Token);
        try
        {
            if (await FirstChunk.ReadAsync(client.Stream, scope.Token) is { } chunk)
            {
                return chunk;
            }

            record.Closed(CloseOutcome.NoData, routine: true);
        }
        catch (OperationCanceledException) when (_context.Draining.IsCancellationRequested && !_abort.IsCancellationRequested)
        {
            // The cancelled read leaves the TLS stream unusable for a close_notify; a FIN is the graceful end left.
            client.Socket.Shutdown(SocketShutdown.Both);
            record.Closed(CloseOutcome.Drained, routine: true);
        }
        catch (Exception ex)
        {
            client.Abort();
            record.Closed(scope.TimedOut ? CloseOutcome.IdleTimeout : _abort.IsCancellationRequested ? CloseOutcome.Shutdown : CloseOutcome.ClientError);
            ConnectionLog.RelayError(_logger, record.Tunnel, record.Id, ex);
        }

        return null;
    }
}
