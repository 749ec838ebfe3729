using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tunnel.Balancing;
using Tunnel.Hosting;
using Tunnel.Http;
using Tunnel.Logging;
using Tunnel.Net;
using Tunnel.Relay;
using Tunnel.Server.Options;
using Tunnel.Server.Tls;
using Tunnel.Server.Upstream;
using Tunnel.Tls;

namespace Tunnel.Server.Connections;

/// <summary>Serves one accepted connection: TLS handshake under a timeout with the client certificate verified,
/// then (on the first byte, by default) a connection to the upstream, then the relay. Nothing reaches the upstream
/// before the client is authenticated.</summary>
internal sealed class ServerConnectionHandler
{
    private static readonly TimeSpan ErrorLinger = TimeSpan.FromSeconds(2);

    private readonly ServerTunnelOptions _options;
    private readonly Reloadable<ServerTlsState> _tls;
    private readonly UpstreamConnector _upstream;
    private readonly DaemonContext _context;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationToken _abort;
    private readonly RelayOptions _relayOptions;

    public ServerConnectionHandler(ServerTunnelOptions options, Reloadable<ServerTlsState> tls, UpstreamConnector upstream, DaemonContext context)
    {
        _options = options;
        _tls = tls;
        _upstream = upstream;
        _context = context;
        _logger = context.Logger;
        _time = context.Time;
        _abort = context.Abort;
        var series = context.Metrics.For(options.Name);
        _relayOptions = options.Timeouts.ToRelayOptions() with { BytesUp = series.BytesUp, BytesDown = series.BytesDown };
    }

    public async Task HandleAsync(Socket socket)
    {
        using var record = _context.NewRecord(_options.Name, socket.RemoteEndPoint?.ToString() ?? "?");
        var client = new TlsEndpoint(socket, new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false));
        await using (client)
        {
            if (!await HandshakeAsync(client, record))
            {
                return;
            }

            using var first = _options.Dial == UpstreamDial.FirstByte ? await ReadFirstChunkAsync(client, record) : null;
            if (_options.Dial == UpstreamDial.FirstByte && first is null)
            {
                return;
            }

            await ForwardAsync(client, first, record);
        }
    }

    private async Task<bool> HandshakeAsync(TlsEndpoint client, ConnectionRecord record)
    {
        var state = _tls.Current;
        var check = new ClientCertificateCheck(state, _time);
        using var scope = new TimeoutScope(_options.Timeouts.Handshake, _time, _abort);
        var started = _time.GetTimestamp();
        try
        {
            SocketTuning.Apply(client.Socket, _options.KeepAlive);
            await client.Tls.AuthenticateAsServerAsync(state.CreateOptions(check), scope.Token);
            record.PeerIdentity = check.Verdict?.PeerName ?? "-";
            record.Metrics.Handshake.Observe(_time.GetElapsedTime(started).TotalSeconds);
            record.Metrics.Accepted("success").Increment();
            return true;
        }
        catch (Exception ex)
        {
            string reason;
            string detail;
            if (scope.TimedOut)
            {
                reason = "handshake-timeout";
                detail = $"no complete handshake within {Config.Durations.Format(_options.Timeouts.Handshake)}";
            }
            else if (check.Verdict is { Ok: false } verdict)
            {
                reason = "client-rejected";
                detail = verdict.Reason;
                record.PeerIdentity = verdict.PeerName;
            }
            else
            {
                reason = _abort.IsCancellationRequested ? "shutdown" : "handshake-failed";
                detail = SocketErrors.Describe(ex);
            }

            record.Metrics.Accepted(reason switch
            {
                "handshake-timeout" => "timeout",
                "client-rejected" => "rejected",
                _ => "error",
            }).Increment();
            if (reason == "handshake-failed" && SocketErrors.IsRoutine(ex))
            {
                // A TCP probe or a client that gave up: not worth a warning.
                ConnectionLog.RoutineError(_logger, record.Tunnel, record.Id, "handshake: " + detail, ex);
            }
            else if (reason != "shutdown")
            {
                ConnectionLog.HandshakeFailed(_logger, record.Tunnel, record.Id, record.Peer, detail);
            }

            record.Closed(reason);
            return false;
        }
    }

    /// <summary>Waits (up to the idle timeout) for the client's first bytes, holding no buffer while it waits (a
    /// client's warm pool keeps connections here); null when the client closed without sending anything, or failed.</summary>
    private async Task<FirstChunk?> ReadFirstChunkAsync(TlsEndpoint client, ConnectionRecord record)
    {
        // An authenticated connection that has sent nothing (a client's warm pool) is not in flight: a drain
        // closes it at once, with close_notify, so the client simply drops it from its pool.
        using var scope = new TimeoutScope(_options.Timeouts.Idle, _time, _abort, _context.Draining);
        FirstChunk? chunk = null;
        try
        {
#pragma warning disable CA2022 // A zero-byte read returns no data by design.
            await client.Stream.ReadAsync(Memory<byte>.Empty, scope.Token);
#pragma warning restore CA2022
            chunk = FirstChunk.Rent();
            var read = await client.Stream.ReadAsync(chunk.Space, scope.Token);
            if (read > 0)
            {
                chunk.SetLength(read);
                return chunk;
            }

            record.Closed("no-data", routine: true);
        }
        catch (OperationCanceledException) when (_context.Draining.IsCancellationRequested && !_abort.IsCancellationRequested)
        {
            // The cancelled read leaves the TLS stream unusable for a close_notify; a FIN is the graceful end left.
            client.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Both);
            record.Closed("drained", routine: true);
        }
        catch (Exception ex)
        {
            client.Abort();
            record.Closed(scope.TimedOut ? "idle-timeout" : _abort.IsCancellationRequested ? "shutdown" : "client-error");
            ConnectionLog.RelayError(_logger, record.Tunnel, record.Id, ex);
        }

        chunk?.Release();
        return null;
    }

    private async Task ForwardAsync(TlsEndpoint client, FirstChunk? chunk, ConnectionRecord record)
    {
        var first = chunk?.Data ?? ReadOnlyMemory<byte>.Empty;
        Socket upstreamSocket;
        IDisposable lease;
        try
        {
            (upstreamSocket, var upstream, lease) = await _upstream.ConnectAsync(_abort);
            record.Upstream = upstream.ToString();
        }
        catch (BackendsDownException ex)
        {
            record.Upstream = string.Join(",", _options.Upstreams);
            record.Metrics.UpstreamConnectErrors(record.Upstream).Increment();
            ConnectionLog.UpstreamFailed(_logger, record.Tunnel, record.Id, record.Upstream, ex.Message);
            if (ProxyRequest.IsProxyRequest(first.Span))
            {
                await ProxyErrorResponse.RespondAsync(client, first, ProxyErrorResponse.ServiceUnavailable,
                    $"tunnel-server cannot reach its upstream proxy: {ex.Message}", ErrorLinger, _time, _abort);
            }
            else
            {
                client.Abort();
            }

            record.Closed("upstream-unreachable");
            return;
        }

        var upstreamEndpoint = new TcpEndpoint(upstreamSocket);
        using (lease)
        await using (upstreamEndpoint)
        {
            record.Opened(TlsVersions.Name(client.Tls.SslProtocol), client.Tls.NegotiatedCipherSuite.ToString());
            if (!first.IsEmpty)
            {
                try
                {
                    await upstreamEndpoint.Stream.WriteAsync(first, _abort);
                    record.BytesUp = first.Length;
                    record.Metrics.BytesUp.Add(first.Length);
                    chunk!.Release();
                }
                catch (Exception ex)
                {
                    client.Abort();
                    upstreamEndpoint.Abort();
                    record.Closed("upstream-error");
                    ConnectionLog.RelayError(_logger, record.Tunnel, record.Id, ex);
                    return;
                }
            }

            var result = await DuplexRelay.RunAsync(client, upstreamEndpoint, _relayOptions, _time, _context.Draining, _abort);
            record.BytesUp += result.BytesUp;
            record.BytesDown = result.BytesDown;
            record.Closed(result.Reason.ToName());
            ConnectionLog.RelayError(_logger, record.Tunnel, record.Id, result.Error);
        }
    }
}
