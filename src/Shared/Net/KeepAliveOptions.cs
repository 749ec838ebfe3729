namespace Tunnel.Net;

/// <summary>TCP keepalive on every socket Tunnel opens or accepts, so a peer that vanished (power loss, a NAT that
/// forgot the flow) is noticed even when the idle timeout is long.</summary>
/// <param name="Enabled">On by default (stunnel leaves SO_KEEPALIVE off; long-lived tunnels need it).</param>
/// <param name="Idle">Idle time before the first probe (TCP_KEEPIDLE).</param>
/// <param name="Interval">Time between probes (TCP_KEEPINTVL).</param>
/// <param name="Count">Unanswered probes before the connection is dropped (TCP_KEEPCNT).</param>
internal sealed record KeepAliveOptions(bool Enabled, TimeSpan Idle, TimeSpan Interval, int Count)
{
    public static KeepAliveOptions Default { get; } = new(true, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(15), 4);

    /// <summary>TCP_USER_TIMEOUT: a connection whose sent data stays unacknowledged this long fails instead of
    /// hanging (a path that went silent: a firewall change, a NAT that forgot the flow). Infinite leaves the kernel
    /// default (about 15 minutes of retransmissions).</summary>
    public TimeSpan UnacknowledgedTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public static KeepAliveOptions Off { get; } = Default with { Enabled = false };
}
