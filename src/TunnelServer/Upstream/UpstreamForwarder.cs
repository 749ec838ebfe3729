using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tunnel.Balancing;
using Tunnel.Common;
using Tunnel.Hosting;
using Tunnel.Http;
using Tunnel.Logging;
using Tunnel.Net;
using Tunnel.Net.ProxyProtocol;
using Tunnel.Relay;
using Tunnel.Server.Handshake;
using Tunnel.Server.Options;
using Tunnel.Tls;

namespace Tunnel.Server.Upstream;

/// <summary>Carries an authenticated client's connection (or multiplexed stream) to the upstream proxy: dials it
/// through the balancer, sends the PROXY header when the upstream wants one, then the first bytes, then relays. A
/// proxy request whose upstream cannot be reached gets a 503, one whose upstream closes before answering a 502, both
/// naming the upstream, instead of a bare close.</summary>
internal sealed class UpstreamForwarder(ServerTunnelOptions options, UpstreamConnector upstream, RelayOptions relayOptions, DaemonContext context)
{
    private static readonly TimeSpan ErrorLinger = TimeSpan.FromSeconds(2);

    private readonly ILogger _logger = context.Logger;
    private readonly TimeProvider _time = context.Time;
    private readonly CancellationToken _abort = context.Abort;

    public async Task ForwardAsync(IRelayEndpoint client, SslStream tls, FirstChunk? chunk, ClientAddresses addresses, ConnectionRecord record)
    {
        var first = chunk?.Data ?? ReadOnlyMemory<byte>.Empty;
        Socket upstreamSocket;
        IDisposable lease;
        try
        {
            (upstreamSocket, var endpoint, lease) = await upstream.ConnectAsync(_abort);
            record.Upstream = endpoint.ToString();
        }
        catch (BackendsDownException ex)
        {
            record.Upstream = string.Join(",", options.Upstreams);
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

            record.Closed(CloseOutcome.UpstreamUnreachable);
            return;
        }

        // A proxy request whose upstream closes (or fails) before any answer, say a Squid that is shutting down, gets
        // a 502 naming the upstream instead of a bare close, which tunnel-client could only put down to a refused
        // certificate; once it has been delivered, the connection is cut after a short linger.
        var upstreamEndpoint = new TcpEndpoint(upstreamSocket);
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(_abort);
        ITimer? lingerTimer = null;
        GuardedEndpoint? guarded = null;
        if (ProxyRequest.IsProxyRequest(first.Span))
        {
            guarded = new GuardedEndpoint(upstreamEndpoint, NoAnswer(record.Upstream), reason =>
            {
                ConnectionLog.UpstreamFailed(_logger, record.Tunnel, record.Id, record.Upstream, reason);
                lingerTimer = _time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), linger, ErrorLinger, Timeout.InfiniteTimeSpan);
            });
        }

        IRelayEndpoint upstreamRelay = guarded is null ? upstreamEndpoint : guarded;
        using (lease)
        await using (upstreamRelay)
        {
            record.Opened(TlsVersions.Name(tls.SslProtocol), tls.NegotiatedCipherSuite.ToString());
            try
            {
                if (options.Edge.UpstreamProxyProtocol is { } version)
                {
                    // First on the connection and in one write, so the upstream sees it whole before any client byte.
                    await upstreamEndpoint.Stream.WriteAsync(ProxyHeaderWriter.Build(version, addresses.Source, addresses.Destination), _abort);
                }

                if (!first.IsEmpty)
                {
                    await upstreamEndpoint.Stream.WriteAsync(first, _abort);
                    record.BytesUp = first.Length;
                    record.Metrics.BytesUp.Add(first.Length);
                    chunk!.Release();
                }
            }
            catch (Exception ex)
            {
                client.Abort();
                upstreamEndpoint.Abort();
                record.Closed(CloseOutcome.UpstreamError);
                ConnectionLog.RelayError(_logger, record.Tunnel, record.Id, ex);
                return;
            }

            var result = await DuplexRelay.RunAsync(client, upstreamRelay, relayOptions, _time, context.Draining, linger.Token);
            lingerTimer?.Dispose();
            record.BytesUp += result.BytesUp;
            record.BytesDown = result.BytesDown;
            if (guarded?.Answered502 == true)
            {
                record.Closed(CloseOutcome.NoAnswer);
                return;
            }

            record.Closed(result.Reason);
            ConnectionLog.RelayError(_logger, record.Tunnel, record.Id, result.Error);
        }
    }

    private static Func<Exception?, string> NoAnswer(string upstream) => ex => ex is null
        ? $"tunnel-server's upstream proxy {upstream} closed the connection without answering (it may be shutting down)"
        : $"tunnel-server's upstream proxy {upstream} failed before answering: {SocketErrors.Describe(ex)}";
}
