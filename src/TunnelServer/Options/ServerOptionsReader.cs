using Tunnel.Admission;
using Tunnel.Common;
using Tunnel.Config;
using Tunnel.Net;
using Tunnel.Net.ProxyProtocol;
using Tunnel.Tls;

namespace Tunnel.Server.Options;

/// <summary>Reads and validates tunnel-server's configuration, reporting every error at once.</summary>
internal static class ServerOptionsReader
{
    public static readonly string[] TunnelKeys =
    [
        "upstreams", "upstreamDial", "crl", "allow", "allowFile",
        "upstreamStrategy", "upstreamRetries", "upstreamBreakDuration", "upstreamHealthCheckInterval",
        "proxyProtocol", "upstreamProxyProtocol", "maxConnectionsPerSource", "maxConnectionsPerIdentity", "handshakeRate", "handshakeBurst",
        "decoy", "alpn", "multiplex", "multiplexStreams", "sessionCacheSize", "sessionCacheTimeout",
    ];

    /// <summary>Upper bound for the per-source and per-identity limits (the process-wide cap is lower in practice).</summary>
    private const int MaxLimit = 10_000_000;

    /// <summary>Upper bound for <c>sessionCacheSize</c>: about 5 GiB of sessions at 5 KiB each.</summary>
    private const int MaxSessionCache = 1_000_000;

    private static readonly Dictionary<string, ProxyProtocolMode> ProxyProtocolModes = new()
    {
        ["off"] = ProxyProtocolMode.Off,
        ["v1"] = ProxyProtocolMode.V1,
        ["v2"] = ProxyProtocolMode.V2,
        ["any"] = ProxyProtocolMode.Any,
    };

    private static readonly Dictionary<string, ProxyProtocolVersion?> ProxyProtocolVersions = new()
    {
        ["off"] = null,
        ["v1"] = ProxyProtocolVersion.V1,
        ["v2"] = ProxyProtocolVersion.V2,
    };

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
        var edge = ReadEdge(tunnel, upstreams);
        var alpn = ReadAlpn(tunnel);
        var sessionCache = new TlsSessionCache(tunnel.Int("sessionCacheSize", Defaults.SessionCacheSize, 0, MaxSessionCache),
            tunnel.Duration("sessionCacheTimeout", Defaults.SessionCacheTimeout, allowDisabled: false));

        if (tunnel.Errors.Count > before || listener is null || ca is null)
        {
            return null;
        }

        // Accepting multiplexing costs nothing until a client asks for it (and a client must opt in).
        var multiplex = new ServerMultiplexOptions(tunnel.Bool("multiplex", true),
            tunnel.Int("multiplexStreams", Defaults.ServerMultiplexStreams, 1, 65536));

        return new ServerTunnelOptions(name, listener, upstreams, identity, ca, minVersion, timeouts, keepAlive, dial, crl, allow, allowFile, balancing,
            edge, alpn)
        {
            Multiplex = multiplex,
            SessionCache = sessionCache,
        };
    }

    private static EdgeOptions ReadEdge(SettingsReader tunnel, IReadOnlyList<HostPort> upstreams)
    {
        var proxyProtocol = tunnel.Choice("proxyProtocol", ProxyProtocolMode.Off, ProxyProtocolModes);
        var upstreamProxyProtocol = tunnel.Choice("upstreamProxyProtocol", null, ProxyProtocolVersions);
        var limits = new AdmissionLimits(
            tunnel.Limit("maxConnectionsPerSource", MaxLimit),
            tunnel.Limit("maxConnectionsPerIdentity", MaxLimit),
            ReadHandshakeRate(tunnel));
        var decoy = tunnel.Address("decoy", "the decoy web server", required: false, allowWildcard: false);
        if (decoy is { } address && upstreams.Contains(address))
        {
            // Unauthenticated connections go to the decoy: if it were the upstream proxy, anyone could use it.
            tunnel.ErrorAt("decoy", $"{address} is also an upstream; unauthenticated clients would reach the upstream proxy. Point the decoy at a web server");
        }

        return new EdgeOptions(proxyProtocol, upstreamProxyProtocol, limits, decoy);
    }

    /// <summary><c>handshakeRate</c> (N/s or N/m) and its <c>handshakeBurst</c>, which defaults to one second's (or one
    /// minute's) worth.</summary>
    private static RateLimit? ReadHandshakeRate(SettingsReader tunnel)
    {
        var rate = tunnel.Find("handshakeRate");
        var burst = tunnel.Find("handshakeBurst");
        var text = rate?.Value.Trim();
        if (rate is null || text is "" or "off" or "0")
        {
            if (burst is not null)
            {
                tunnel.ErrorAt("handshakeBurst", "has no effect without handshakeRate; set handshakeRate (e.g. 50/s) or remove handshakeBurst");
            }

            return null;
        }

        if (!RateLimit.TryParse(text, out var permits, out var per))
        {
            tunnel.ErrorAt("handshakeRate", $"'{rate.Value.Value}' is not a rate; use a number per second or per minute ({RateLimit.Examples}), or off");
            return null;
        }

        return new RateLimit(permits, per, tunnel.Int("handshakeBurst", permits, 1, MaxLimit));
    }

    private static List<string> ReadAlpn(SettingsReader tunnel)
    {
        var alpn = tunnel.List("alpn").ToList();
        foreach (var protocol in alpn.Where(p => System.Text.Encoding.UTF8.GetByteCount(p) > 255))
        {
            tunnel.ErrorAt("alpn", $"ALPN protocol '{protocol[..20]}...' is longer than 255 bytes");
        }

        return alpn;
    }
}
