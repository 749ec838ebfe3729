using Tunnel.Relay;

namespace Tunnel.Config;

/// <summary>Every wait a tunnel bounds. <see cref="Timeout.InfiniteTimeSpan"/> means disabled.</summary>
/// <param name="Connect">Opening the outgoing TCP connection (default 10 s).</param>
/// <param name="Handshake">Completing the TLS handshake (default 10 s).</param>
/// <param name="Idle">No byte moved either way (default 1 h; Squid keeps idle parent connections 1 min).</param>
/// <param name="Close">The other direction after a half-close (default 60 s, as stunnel's TIMEOUTclose).</param>
/// <param name="MaxLifetime">Total connection age (default off).</param>
internal sealed record TunnelTimeouts(TimeSpan Connect, TimeSpan Handshake, TimeSpan Idle, TimeSpan Close, TimeSpan MaxLifetime)
{
    public RelayOptions ToRelayOptions() => new(Idle, Close, MaxLifetime);
}
