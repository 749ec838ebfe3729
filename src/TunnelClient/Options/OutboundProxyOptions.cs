using Tunnel.Net;

namespace Tunnel.Client.Options;

/// <summary>The customer's own HTTP proxy, for sites whose only egress is through it: tunnel-client asks it to
/// <c>CONNECT server:443</c> and runs TLS through the tunnel it opens (as stunnel's <c>protocol = connect</c>).</summary>
/// <param name="Address">The proxy.</param>
/// <param name="User">Basic-authentication user, if the proxy requires it.</param>
/// <param name="Password">Its password (from the config, TUNNEL_PROXYPASSWORD, or a file); never logged.</param>
internal sealed record OutboundProxyOptions(HostPort Address, string? User, string? Password)
{
    public override string ToString() => User is null ? $"http://{Address}" : $"http://{User}@{Address}";
}
