using Microsoft.Extensions.Logging;

namespace Tunnel.Logging;

/// <summary>The per-connection log lines both daemons write: one when a connection is established and one when it
/// ends, with the fields of an nginx <c>stream</c> access log. "Up" is the direction from the accepted side toward
/// the dialled side. Payload bytes and keys are never logged.</summary>
internal static partial class ConnectionLog
{
    [LoggerMessage(EventId = 1, EventName = "ConnectionOpened", Level = LogLevel.Information,
        Message = "tunnel {Tunnel} conn {ConnectionId} open: {Peer} [{PeerIdentity}] -> {Upstream} ({TlsProtocol} {TlsCipher})")]
    public static partial void Opened(ILogger logger, string tunnel, long connectionId, string peer, string peerIdentity, string upstream, string tlsProtocol, string tlsCipher);

    [LoggerMessage(EventId = 2, EventName = "ConnectionClosed", Level = LogLevel.Information,
        Message = "tunnel {Tunnel} conn {ConnectionId} closed: {Peer} [{PeerIdentity}] -> {Upstream} up={BytesUp} down={BytesDown} duration={DurationMs}ms reason={Reason}")]
    public static partial void Closed(ILogger logger, string tunnel, long connectionId, string peer, string peerIdentity, string upstream, long bytesUp, long bytesDown, long durationMs, string reason);

    [LoggerMessage(EventId = 3, EventName = "ConnectionClosedQuiet", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel} conn {ConnectionId} closed: {Peer} [{PeerIdentity}] -> {Upstream} up={BytesUp} down={BytesDown} duration={DurationMs}ms reason={Reason}")]
    public static partial void ClosedQuiet(ILogger logger, string tunnel, long connectionId, string peer, string peerIdentity, string upstream, long bytesUp, long bytesDown, long durationMs, string reason);

    [LoggerMessage(EventId = 4, EventName = "ConnectionError", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel} conn {ConnectionId}: {Reason}")]
    public static partial void RoutineError(ILogger logger, string tunnel, long connectionId, string reason, Exception? exception);

    [LoggerMessage(EventId = 6, EventName = "UpstreamFailed", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel} conn {ConnectionId}: cannot reach {Upstream}: {Reason}")]
    public static partial void UpstreamFailed(ILogger logger, string tunnel, long connectionId, string upstream, string reason);

    [LoggerMessage(EventId = 7, EventName = "ConnectionOpenedQuiet", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel} conn {ConnectionId} open: {Peer} [{PeerIdentity}] -> {Upstream} ({TlsProtocol} {TlsCipher})")]
    public static partial void OpenedQuiet(ILogger logger, string tunnel, long connectionId, string peer, string peerIdentity, string upstream, string tlsProtocol, string tlsCipher);

    [LoggerMessage(EventId = 8, EventName = "RelayFailed", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel} conn {ConnectionId}: relay ended with an error: {Reason}")]
    public static partial void RelayFailed(ILogger logger, string tunnel, long connectionId, string reason, Exception? exception);

    /// <summary>Logs the close line at Information, or Debug when connection lines are quiet or the connection
    /// carried nothing (a probe).</summary>
    public static void Close(ILogger logger, bool quiet, string tunnel, long connectionId, string peer, string peerIdentity,
        string upstream, long bytesUp, long bytesDown, long durationMs, string reason)
    {
        if (quiet)
        {
            ClosedQuiet(logger, tunnel, connectionId, peer, peerIdentity, upstream, bytesUp, bytesDown, durationMs, reason);
        }
        else
        {
            Closed(logger, tunnel, connectionId, peer, peerIdentity, upstream, bytesUp, bytesDown, durationMs, reason);
        }
    }

    public static void Open(ILogger logger, bool quiet, string tunnel, long connectionId, string peer, string peerIdentity,
        string upstream, string tlsProtocol, string tlsCipher)
    {
        if (quiet)
        {
            OpenedQuiet(logger, tunnel, connectionId, peer, peerIdentity, upstream, tlsProtocol, tlsCipher);
        }
        else
        {
            Opened(logger, tunnel, connectionId, peer, peerIdentity, upstream, tlsProtocol, tlsCipher);
        }
    }

    /// <summary>Logs why a relay ended badly: routine resets at Debug, anything else at Warning.</summary>
    public static void RelayError(ILogger logger, string tunnel, long connectionId, Exception? error)
    {
        if (error is null)
        {
            return;
        }

        if (Net.SocketErrors.IsRoutine(error))
        {
            RoutineError(logger, tunnel, connectionId, Net.SocketErrors.Describe(error), error);
        }
        else
        {
            RelayFailed(logger, tunnel, connectionId, Net.SocketErrors.Describe(error), error);
        }
    }
}
