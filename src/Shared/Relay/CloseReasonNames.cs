namespace Tunnel.Relay;

/// <summary>Stable, lower-case names for close reasons, as they appear in logs and metric labels.</summary>
internal static class CloseReasonNames
{
    public static string ToName(this CloseReason reason) => reason switch
    {
        CloseReason.Done => "done",
        CloseReason.ClientError => "client-error",
        CloseReason.UpstreamError => "upstream-error",
        CloseReason.IdleTimeout => "idle-timeout",
        CloseReason.CloseTimeout => "close-timeout",
        CloseReason.MaxLifetime => "max-lifetime",
        CloseReason.Shutdown => "shutdown",
        CloseReason.Drained => "drained",
        _ => "unknown",
    };
}
