using Microsoft.Extensions.Logging;
using Tunnel.Common;
using Tunnel.Logging;

namespace Tunnel.Server.Handshake;

/// <summary>Warnings about failed handshakes, throttled per kind of failure: a flood of junk ClientHellos (or of
/// revoked clients retrying) costs one warning per kind every <see cref="Interval"/>, with the number left out, and a
/// debug line per connection; every failure is still counted in <c>tunnel_accept_total</c>.</summary>
/// <remarks>The kind is the outcome, and for a refused certificate the problem with it (unknown CA, revoked,
/// expired...), so a new kind of failure is never hidden behind an old one.</remarks>
internal sealed partial class HandshakeLog(ILogger logger, TimeProvider time)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly LogThrottle _throttle = new(Interval, time);

    /// <param name="problem">For a refused certificate, what is wrong with it: a fixed set of names (never peer input),
    /// as the throttle's keys must be.</param>
    public void Failed(ConnectionRecord record, CloseOutcome outcome, string? problem, string detail)
    {
        var kind = problem is null ? outcome.Name() : outcome.Name() + "/" + problem;
        if (_throttle.ShouldLog(kind, out var suppressed))
        {
            HandshakeFailed(logger, record.Tunnel, record.Id, record.Peer, detail, suppressed, Durations.Format(Interval));
        }
        else
        {
            HandshakeFailedQuiet(logger, record.Tunnel, record.Id, record.Peer, detail);
        }
    }

    [LoggerMessage(EventId = 5, EventName = "HandshakeFailed", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel} conn {ConnectionId}: TLS handshake with {Peer} failed: {Reason}; {Suppressed} more like it since the last such warning (all counted in tunnel_accept_total; this warning repeats at most every {Interval})")]
    private static partial void HandshakeFailed(ILogger logger, string tunnel, long connectionId, string peer, string reason, long suppressed, string interval);

    [LoggerMessage(EventId = 316, EventName = "HandshakeFailedQuiet", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel} conn {ConnectionId}: TLS handshake with {Peer} failed: {Reason}")]
    private static partial void HandshakeFailedQuiet(ILogger logger, string tunnel, long connectionId, string peer, string reason);
}
