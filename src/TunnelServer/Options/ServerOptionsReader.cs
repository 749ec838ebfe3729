using Tunnel.Config;
using Tunnel.Tls;

namespace Tunnel.Server.Options;

/// <summary>Reads and validates tunnel-server's configuration, reporting every error at once.</summary>
internal static class ServerOptionsReader
{
    public static readonly string[] TunnelKeys =
    [
        "upstreams", "upstreamDial", "crl", "allow", "allowFile",
        "upstreamStrategy", "upstreamRetries", "upstreamBreakDuration", "upstreamHealthCheckInterval",
    ];

    private static readonly Dictionary<string, UpstreamDial> DialChoices = new()
    {
        ["first-byte"] = UpstreamDial.FirstByte,
        ["handshake"] = UpstreamDial.Handshake,
    };

    public static ServerOptions? Read(ConfigDocument document, List<ConfigError> errors)
    {
        CommonSettings.Schema(TunnelKeys).CheckUnknownKeys(document, errors);
        var process = CommonSettings.ReadProcess(new SettingsReader(document, errors, section: null));

        var tunnels = new List<ServerTunnelOptions>();
        foreach (var (name, section) in CommonSettings.Tunnels(document))
        {
            if (ReadTunnel(name, new SettingsReader(document, errors, section)) is { } tunnel)
            {
                tunnels.Add(tunnel);
            }
        }

        ListenAddresses.CheckDistinct(tunnels.Select(t => (t.Name, t.Listener.Address)), document, errors);
        return errors.Count == 0 ? new ServerOptions(process, tunnels) : null;
    }

    private static ServerTunnelOptions? ReadTunnel(string name, SettingsReader tunnel)
    {
        var before = tunnel.Errors.Count;
        var listener = CommonSettings.ReadListener(tunnel, "the address to accept TLS connections on (e.g. *:443)");
        var upstreams = tunnel.Addresses("upstreams", "the upstream proxy address (e.g. 127.0.0.1:3128)", required: true);
        var identity = CommonSettings.ReadIdentity(tunnel, required: true);
        var ca = tunnel.FilePath("ca", "the CA bundle client certificates must chain to", required: true);
        var minVersion = CommonSettings.ReadTlsMinVersion(tunnel);
        var timeouts = CommonSettings.ReadTimeouts(tunnel);
        var keepAlive = CommonSettings.ReadKeepAlive(tunnel);
        var dial = tunnel.Choice("upstreamDial", UpstreamDial.FirstByte, DialChoices);
        var crl = tunnel.FilePath("crl", "the CRL file", required: false);
        var allow = tunnel.List("allow");
        var allowErrors = new List<string>();
        PeerAllowList.Parse(allow, allowErrors);
        foreach (var error in allowErrors)
        {
            tunnel.ErrorAt("allow", error);
        }

        var allowFile = tunnel.FilePath("allowFile", "the allow-list file", required: false);
        var balancing = CommonSettings.ReadBalancing(tunnel, timeouts, prefix: "upstream", hedge: false);

        if (tunnel.Errors.Count > before || listener is null || ca is null)
        {
            return null;
        }

        return new ServerTunnelOptions(name, listener, upstreams, identity, ca, minVersion, timeouts, keepAlive, dial, crl, allow, allowFile, balancing);
    }
}
