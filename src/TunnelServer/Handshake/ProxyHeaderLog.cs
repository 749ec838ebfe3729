using Microsoft.Extensions.Logging;

namespace Tunnel.Server.Handshake;

/// <summary>Log lines about PROXY headers at tunnel-server's edge (the limit lines are Tunnel.Admission.LimitLog).</summary>
internal static partial class ProxyHeaderLog
{
    [LoggerMessage(EventId = 312, EventName = "ProxyHeaderInvalid", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel} conn {ConnectionId}: closed {Peer}: {Reason}; {Suppressed} more since the last such warning (all counted in tunnel_accept_total as result bad-proxy-header; this warning repeats at most every {Interval})")]
    public static partial void ProxyHeaderInvalid(ILogger logger, string tunnel, long connectionId, string peer, string reason, long suppressed, string interval);

    [LoggerMessage(EventId = 313, EventName = "ProxyHeaderInvalidQuiet", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel} conn {ConnectionId}: closed {Peer}: {Reason}")]
    public static partial void ProxyHeaderInvalidQuiet(ILogger logger, string tunnel, long connectionId, string peer, string reason);

    [LoggerMessage(EventId = 314, EventName = "ProxyHeaderReceived", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel} conn {ConnectionId}: PROXY {Version} header from {Via}: client {Peer}, front end {Destination}")]
    public static partial void ProxyHeaderReceived(ILogger logger, string tunnel, long connectionId, string version, string via, string peer, string destination);

    [LoggerMessage(EventId = 315, EventName = "ProxyHeaderWithoutAddress", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel} conn {ConnectionId}: PROXY {Version} header from {Via} with {Kind}; keeping the connection's own addresses")]
    public static partial void ProxyHeaderWithoutAddress(ILogger logger, string tunnel, long connectionId, string version, string via, string kind);
}
