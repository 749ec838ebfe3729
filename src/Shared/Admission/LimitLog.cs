using Microsoft.Extensions.Logging;

namespace Tunnel.Admission;

/// <summary>Log lines about connections refused or held back by a limit, on both daemons.</summary>
internal static partial class LimitLog
{
    [LoggerMessage(EventId = 310, EventName = "LimitReached", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel} conn {ConnectionId}: refused {Peer}: {Detail}; {Suppressed} more refused since the last such warning (all counted in tunnel_limit_rejections_total; this warning repeats at most every {Interval})")]
    public static partial void LimitReached(ILogger logger, string tunnel, long connectionId, string peer, string detail, long suppressed, string interval);

    [LoggerMessage(EventId = 311, EventName = "LimitRefused", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel} conn {ConnectionId}: refused {Peer}: {Detail}")]
    public static partial void LimitRefused(ILogger logger, string tunnel, long connectionId, string peer, string detail);

    [LoggerMessage(EventId = 102, EventName = "MaxConnectionsReached", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel}: the process is at maxConnections ({Limit}); new connections wait in the kernel backlog until one closes; reached {Suppressed} more times since the last such warning (counted in tunnel_max_connections_reached_total; this warning repeats at most every {Interval})")]
    public static partial void MaxConnectionsReached(ILogger logger, string tunnel, int limit, long suppressed, string interval);
}
