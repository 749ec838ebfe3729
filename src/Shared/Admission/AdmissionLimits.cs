using Tunnel.Net;

namespace Tunnel.Admission;

/// <summary>Per-tunnel limits on who may open how many connections, on top of the process-wide
/// <c>maxConnections</c> (which is taken before accept). Null disables a limit; all are off by default.</summary>
/// <param name="MaxPerSource">Concurrent connections from one client address (on tunnel-server the PROXY header's
/// address when one is received, checked before the TLS handshake; on tunnel-client the address that connected,
/// checked at accept).</param>
/// <param name="MaxPerIdentity">Concurrent connections per authenticated client certificate (its short name, e.g.
/// <c>CN=site-a</c>), checked after authentication (tunnel-server only).</param>
/// <param name="HandshakeRate">New connections allowed into the TLS handshake, a token bucket shared by all sources
/// (tunnel-server only).</param>
internal sealed record AdmissionLimits(int? MaxPerSource, int? MaxPerIdentity, RateLimit? HandshakeRate)
{
    public static AdmissionLimits Off { get; } = new(null, null, null);
}
