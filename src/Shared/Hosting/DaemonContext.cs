using Microsoft.Extensions.Logging;
using Tunnel.Logging;
using Tunnel.Net;

namespace Tunnel.Hosting;

/// <summary>What every tunnel of one process shares: logging, time, the connection cap and tracker, connection
/// ids, and the token that resets every connection when a drain times out.</summary>
internal sealed record DaemonContext(
    ILogger Logger,
    TimeProvider Time,
    ConnectionLimiter Limiter,
    ConnectionTracker Tracker,
    ConnectionIds Ids,
    bool QuietConnections,
    CancellationToken Abort);
