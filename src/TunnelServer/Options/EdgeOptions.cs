using Tunnel.Admission;
using Tunnel.Net;
using Tunnel.Net.ProxyProtocol;

namespace Tunnel.Server.Options;

/// <summary>What a server tunnel does at its edge, around authentication.</summary>
/// <param name="ProxyProtocol">The PROXY header required from a load balancer before TLS (off by default).</param>
/// <param name="UpstreamProxyProtocol">The PROXY header written first to the upstream, carrying the real client
/// address (null: none, the default).</param>
/// <param name="Limits">Per-source, per-identity and handshake-rate limits.</param>
/// <param name="Decoy">Where connections that complete the TLS handshake without a valid client certificate are
/// relayed, decrypted, so that a prober sees an ordinary website (null: such connections are refused).</param>
internal sealed record EdgeOptions(ProxyProtocolMode ProxyProtocol, ProxyProtocolVersion? UpstreamProxyProtocol, AdmissionLimits Limits, HostPort? Decoy)
{
    public static EdgeOptions Default { get; } = new(ProxyProtocolMode.Off, null, AdmissionLimits.Off, null);
}
