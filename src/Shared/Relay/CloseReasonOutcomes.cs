using Tunnel.Common;

namespace Tunnel.Relay;

/// <summary>A relay's close reason as the connection's outcome (named in <see cref="OutcomeNames"/>).</summary>
internal static class CloseReasonOutcomes
{
    public static CloseOutcome ToOutcome(this CloseReason reason) => reason switch
    {
        CloseReason.Done => CloseOutcome.Done,
        CloseReason.ClientError => CloseOutcome.ClientError,
        CloseReason.UpstreamError => CloseOutcome.UpstreamError,
        CloseReason.IdleTimeout => CloseOutcome.IdleTimeout,
        CloseReason.CloseTimeout => CloseOutcome.CloseTimeout,
        CloseReason.MaxLifetime => CloseOutcome.MaxLifetime,
        CloseReason.Shutdown => CloseOutcome.Shutdown,
        CloseReason.Drained => CloseOutcome.Drained,
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };
}
