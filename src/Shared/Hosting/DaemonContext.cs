using Microsoft.Extensions.Logging;
using Tunnel.Logging;
using Tunnel.Metrics;
using Tunnel.Net;

namespace Tunnel.Hosting;

/// <summary>What every tunnel of one process shares: logging, time, metrics, the connection cap and tracker,
/// connection ids, the token that starts a drain (idle connections then close gracefully) and the token that resets
/// every connection when the drain times out.</summary>
internal sealed record DaemonContext(
    ILogger Logger,
    TimeProvider Time,
    TunnelMetrics Metrics,
    ConnectionLimiter Limiter,
    ConnectionTracker Tracker,
    ConnectionIds Ids,
    bool QuietConnections,
    CancellationToken Draining,
    CancellationToken Abort)
{
    /// <summary>A record for a newly accepted connection of <paramref name="tunnel"/>.</summary>
    public ConnectionRecord NewRecord(string tunnel, string peer) =>
        new(tunnel, Ids.Next(), peer, Logger, Time, Metrics.For(tunnel), QuietConnections);
}
