using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tunnel.Admission;
using Tunnel.Client.Dialing;
using Tunnel.Client.Options;
using Tunnel.Common;
using Tunnel.Hosting;
using Tunnel.Http;
using Tunnel.Logging;
using Tunnel.Net;
using Tunnel.Relay;
using Tunnel.Tls;

namespace Tunnel.Client.Connections;

/// <summary>Serves one plain TCP connection from Squid (or anything): waits for its first bytes, so that probe
/// connections that carry nothing cost no TLS handshake, then opens a verified TLS connection to a tunnel-server
/// and relays. A proxy request that cannot be carried gets an HTTP 502/503 with the reason. A connection over
/// <c>maxConnectionsPerSource</c> is closed at once; one that stays silent past <c>firstByteTimeout</c> is closed
/// too, so silent connections cannot hold every slot of <c>maxConnections</c> for an hour.</summary>
internal sealed partial class ClientConnectionHandler
{
    private static readonly TimeSpan ErrorLinger = TimeSpan.FromSeconds(2);

    private readonly ClientTunnelOptions _options;
    private readonly ServerConnector _connector;
    private readonly DaemonContext _context;
    private readonly RelayOptions _relayOptions;
    private readonly ConnectionAdmission _admission;
    private readonly TimeSpan _firstByteTimeout;
    private readonly bool _firstByteBeforeIdle;
    private readonly LogThrottle _silentWarnings;

    public ClientConnectionHandler(ClientTunnelOptions options, ServerConnector connector, ConnectionAdmission admission, DaemonContext context)
    {
        _options = options;
        _connector = connector;
        _admission = admission;
        _context = context;
        var idle = options.Timeouts.Idle;
        _firstByteBeforeIdle = options.FirstByteTimeout != Timeout.InfiniteTimeSpan && (idle == Timeout.InfiniteTimeSpan || options.FirstByteTimeout < idle);
        _firstByteTimeout = _firstByteBeforeIdle ? options.FirstByteTimeout : idle;
        _silentWarnings = new LogThrottle(ConnectionAdmission.WarningInterval, context.Time);
        var series = context.Metrics.For(options.Name);
        _relayOptions = options.Timeouts.ToRelayOptions() with { CountUp = series.BytesUp.Add, CountDown = series.BytesDown.Add };
    }

    public async Task HandleAsync(Socket socket)
    {
        using var record = _context.NewRecord(_options.Name, socket.RemoteEndPoint?.ToString() ?? "?");
        if (socket.RemoteEndPoint is IPEndPoint source)
        {
            if (_admission.AdmitSource(source.Address, record) is not { } lease)
            {
                // Refused (counted, logged, closed as "limited"): a reset, so the peer does not wait for an answer.
                socket.LingerState = new LingerOption(true, 0);
                socket.Dispose();
                return;
            }

            // Released before the close line: see ConnectionRecord.Hold.
            record.Hold(lease);
        }

        var inner = new TcpEndpoint(socket);
        await using (inner)
        {
            using var first = await ReadFirstChunkAsync(inner, record);
            if (first is null)
            {
                return;
            }

            await TunnelAsync(inner, first, record);
        }
    }

    /// <summary>Waits up to the first-byte timeout (or the idle timeout, when shorter) for the first bytes without
    /// holding a buffer. Null when the peer sent nothing (a Squid probe: logged at Debug), stayed silent too long, or
    /// failed.</summary>
    private async Task<FirstChunk?> ReadFirstChunkAsync(TcpEndpoint inner, ConnectionRecord record)
    {
        // A connection that has sent nothing is not in flight: a drain closes it at once, unless it was accepted only
        // a moment ago (its request is on its way).
        using var drain = new DrainGrace(_relayOptions.DrainIdle, _context.Time, _context.Draining);
        using var scope = new TimeoutScope(_firstByteTimeout, _context.Time, _context.Abort, drain.Token);
        try
        {
            SocketTuning.Apply(inner.Socket, _options.KeepAlive);
            if (await FirstChunk.ReadAsync(inner.Stream, scope.Token) is { } chunk)
            {
                return chunk;
            }

            record.Closed(CloseOutcome.NoData, routine: true);
        }
        catch (Exception ex) when (_context.Draining.IsCancellationRequested && !_context.Abort.IsCancellationRequested && ex is OperationCanceledException)
        {
            record.Closed(CloseOutcome.Drained, routine: true);
        }
        catch (Exception) when (scope.TimedOut && _firstByteBeforeIdle)
        {
            inner.Abort();
            if (_silentWarnings.ShouldLog(out var suppressed))
            {
                LogSilentClosed(_context.Logger, record.Tunnel, record.Id, record.Peer, Durations.Format(_firstByteTimeout), suppressed,
                    Durations.Format(_silentWarnings.Interval));
            }

            // The warning above speaks for a burst of silent connections; the close line of each is at Debug.
            record.Closed(CloseOutcome.FirstByteTimeout, routine: true);
        }
        catch (Exception ex)
        {
            inner.Abort();
            record.Closed(scope.TimedOut ? CloseOutcome.IdleTimeout : _context.Abort.IsCancellationRequested ? CloseOutcome.Shutdown : CloseOutcome.ClientError,
                routine: SocketErrors.IsRoutine(ex));
        }

        return null;
    }

    private async Task TunnelAsync(TcpEndpoint inner, FirstChunk first, ConnectionRecord record)
    {
        ServerConnection server;
        try
        {
            server = await _connector.ConnectAsync(_context.Abort);
        }
        catch (TunnelConnectException ex)
        {
            record.Metrics.Accepted(ex.Status == ProxyErrorResponse.ServiceUnavailable ? AcceptOutcome.Error : AcceptOutcome.Rejected).Increment();
            record.Upstream = ex.Server;
            ConnectionLog.UpstreamFailed(_context.Logger, record.Tunnel, record.Id, ex.Server, ex.Message);
            if (ProxyRequest.IsProxyRequest(first.Data.Span))
            {
                await ProxyErrorResponse.RespondAsync(inner, first.Data, ex.Status, ex.Message, ErrorLinger, _context.Time, _context.Abort);
                record.Closed(ex.Status == ProxyErrorResponse.ServiceUnavailable ? CloseOutcome.ServerUnreachable : CloseOutcome.TlsFailed);
            }
            else
            {
                inner.Abort();
                record.Closed(ex.Status == ProxyErrorResponse.ServiceUnavailable ? CloseOutcome.ServerUnreachable : CloseOutcome.TlsFailed);
            }

            return;
        }
        catch (OperationCanceledException)
        {
            inner.Abort();
            record.Closed(CloseOutcome.Shutdown);
            return;
        }

        record.Metrics.Accepted(AcceptOutcome.Success).Increment();
        record.Upstream = server.Server.ToString();
        record.PeerIdentity = server.ServerIdentity;

        // A proxy request whose tunnel ends before any answer gets a 502 with the reason; once it has been
        // delivered, the connection is cut after a short linger instead of waiting out the close timeout.
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(_context.Abort);
        ITimer? lingerTimer = null;
        GuardedEndpoint? guarded = null;
        if (ProxyRequest.IsProxyRequest(first.Data.Span))
        {
            guarded = new GuardedEndpoint(server.Relay, ServerNoAnswer.For(record.Upstream), reason =>
            {
                ConnectionLog.UpstreamFailed(_context.Logger, record.Tunnel, record.Id, record.Upstream, reason);
                lingerTimer = _context.Time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), linger, ErrorLinger, Timeout.InfiniteTimeSpan);
            });
        }

        var upstream = guarded ?? server.Relay;
        using (server)
        await using (upstream)
        {
            record.Opened(TlsVersions.Name(server.Endpoint.Tls.SslProtocol), server.Endpoint.Tls.NegotiatedCipherSuite.ToString());
            try
            {
                await server.Relay.Stream.WriteAsync(first.Data, _context.Abort);
                record.BytesUp = first.Length;
                record.Metrics.BytesUp.Add(first.Length);
                first.Release();
            }
            catch (Exception ex)
            {
                inner.Abort();
                upstream.Abort();
                record.Closed(CloseOutcome.UpstreamError);
                ConnectionLog.RelayError(_context.Logger, record.Tunnel, record.Id, ex);
                return;
            }

            var result = await DuplexRelay.RunAsync(inner, upstream, _relayOptions, _context.Time, _context.Draining, linger.Token);
            lingerTimer?.Dispose();
            record.BytesUp += result.BytesUp;
            record.BytesDown = result.BytesDown;
            if (guarded?.Answered502 == true)
            {
                record.Closed(CloseOutcome.NoAnswer);
                return;
            }

            record.Closed(result.Reason);
            ConnectionLog.RelayError(_context.Logger, record.Tunnel, record.Id, result.Error);
        }
    }

    [LoggerMessage(EventId = 402, EventName = "FirstByteTimeout", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel} conn {ConnectionId}: closed {Peer}: sent nothing within {Timeout} (firstByteTimeout); {Suppressed} more closed so since the last such warning (all counted in tunnel_connections_closed_total as reason first-byte-timeout; this warning repeats at most every {Interval})")]
    private static partial void LogSilentClosed(ILogger logger, string tunnel, long connectionId, string peer, string timeout, long suppressed, string interval);
}
