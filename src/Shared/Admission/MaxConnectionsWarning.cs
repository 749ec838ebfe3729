using Microsoft.Extensions.Logging;
using Tunnel.Common;
using Tunnel.Logging;
using Tunnel.Metrics;

namespace Tunnel.Admission;

/// <summary>What a tunnel's accept loop does when it finds the process at <c>maxConnections</c> (it then stops
/// accepting until a connection closes): counts it in <c>tunnel_max_connections_reached_total</c> and warns, at
/// most once per <see cref="ConnectionAdmission.WarningInterval"/> with the number of times left out.</summary>
internal sealed class MaxConnectionsWarning(string tunnel, int limit, TunnelSeries metrics, ILogger logger, TimeProvider time)
{
    private readonly LogThrottle _throttle = new(ConnectionAdmission.WarningInterval, time);

    /// <summary>For <c>TcpListenerLoop</c>: called each time accept has to wait for a free slot.</summary>
    public void Reached()
    {
        metrics.MaxConnectionsReached.Increment();
        if (_throttle.ShouldLog(out var suppressed))
        {
            LimitLog.MaxConnectionsReached(logger, tunnel, limit, suppressed, Durations.Format(_throttle.Interval));
        }
    }
}
