namespace Tunnel.Config.Stunnel;

/// <summary>Which daemon a stunnel service becomes: <c>client = yes</c> services are tunnel-client's (plain TCP in,
/// TLS out), <c>client = no</c> (stunnel's default) tunnel-server's (TLS in, plain TCP out).</summary>
internal enum StunnelRole
{
    Client,
    Server,
}

internal static class StunnelRoles
{
    public static string Program(this StunnelRole role) => role == StunnelRole.Client ? "tunnel-client" : "tunnel-server";

    public static string Setting(this StunnelRole role) => role == StunnelRole.Client ? "client = yes" : "client = no";
}
