using System.Net.Security;
using Tunnel.Admission;
using Tunnel.Common;
using Tunnel.Config;
using Tunnel.Tls;

namespace Tunnel.Client.Options;

/// <summary>Reads and validates tunnel-client's configuration, reporting every error at once.</summary>
internal static class ClientOptionsReader
{
    public static readonly string[] TunnelKeys =
        [
            "servers", "serverName", "sni", "alpn", "serverPins", "strategy", "retries", "hedgeDelay", "breakDuration", "healthCheckInterval",
            "proxy", "proxyUser", "proxyPassword", "proxyPasswordFile", "poolSize", "poolMaxAge",
            "multiplex", "multiplexConnections", "multiplexStreams", "firstByteTimeout", "maxConnectionsPerSource",
        ];

    public static ClientOptions? Read(ConfigDocument document, List<ConfigError> errors)
    {
        CommonSettings.Schema(TunnelKeys).CheckUnknownKeys(document, errors);
        var process = CommonSettings.ReadProcess(new SettingsReader(document, errors, section: null));

        var tunnels = new List<ClientTunnelOptions>();
        foreach (var (name, section) in CommonSettings.Tunnels(document))
        {
            if (ReadTunnel(name, new SettingsReader(document, errors, section)) is { } tunnel)
            {
                tunnels.Add(tunnel);
            }
        }

        ListenAddresses.CheckDistinct(tunnels.Select(t => (t.Name, t.Listener.Address)), document, errors);
        return errors.Count == 0 ? new ClientOptions(process, tunnels) : null;
    }

    private static ClientTunnelOptions? ReadTunnel(string name, SettingsReader tunnel)
    {
        var before = tunnel.Errors.Count;
        var listener = CommonSettings.ReadListener(tunnel, "the address Squid connects to (e.g. 127.0.0.1:3129)");
        var servers = tunnel.Addresses("servers", "the tunnel-server address (e.g. tunnel.example.com:443)", required: true);
        var serverName = tunnel.String("serverName")?.Trim();
        if (string.IsNullOrEmpty(serverName))
        {
            serverName = servers.Count > 0 ? servers[0].Host : "";
        }

        // Absent: send the verified name. Empty: send no SNI at all.
        var sni = tunnel.String("sni") is { } configuredSni ? configuredSni.Trim() : serverName;
        var alpn = tunnel.List("alpn");
        foreach (var protocol in alpn)
        {
            if (protocol.Length > 255)
            {
                tunnel.ErrorAt("alpn", $"ALPN protocol '{protocol[..20]}...' is longer than 255 bytes");
            }
        }

        var pins = new List<byte[]>();
        foreach (var pin in tunnel.List("serverPins"))
        {
            if (SpkiPin.TryParse(pin, out var hash))
            {
                pins.Add(hash);
            }
            else
            {
                tunnel.ErrorAt("serverPins", $"'{pin}' is not a SHA-256 SPKI pin; paste the 'sha256/...' value `certs inspect` prints");
            }
        }

        var identity = CommonSettings.ReadIdentity(tunnel, required: false);
        var ca = tunnel.FilePath("ca", "the CA bundle the server certificate must chain to", required: false);
        var minVersion = CommonSettings.ReadTlsMinVersion(tunnel);
        var timeouts = CommonSettings.ReadTimeouts(tunnel);
        var keepAlive = CommonSettings.ReadKeepAlive(tunnel);
        var balancing = CommonSettings.ReadBalancing(tunnel, timeouts, prefix: "", hedge: true);
        var proxy = ReadProxy(tunnel);
        var pool = new PoolOptions(tunnel.Int("poolSize", Defaults.PoolSize, 0, 1000), tunnel.Duration("poolMaxAge", Defaults.PoolMaxAge, allowDisabled: false));

        var multiplex = new MultiplexOptions(tunnel.Bool("multiplex", false),
            tunnel.Int("multiplexConnections", Defaults.MultiplexConnections, 1, 64),
            tunnel.Int("multiplexStreams", Defaults.MultiplexStreams, 1, 65536));

        var firstByteTimeout = tunnel.Duration("firstByteTimeout", Defaults.FirstByteTimeout);
        var limits = new AdmissionLimits(tunnel.Limit("maxConnectionsPerSource", 10_000_000), null, null);

        if (tunnel.Errors.Count > before || listener is null)
        {
            return null;
        }

        return new ClientTunnelOptions(name, listener, servers, serverName, sni, alpn, identity, ca, minVersion, timeouts, keepAlive, pins, balancing, proxy, pool)
        {
            Multiplex = multiplex,
            FirstByteTimeout = firstByteTimeout,
            Limits = limits,
        };
    }

    /// <summary>The outbound proxy: <c>http://[user[:password]@]host:port</c>, with the user and password also
    /// settable on their own (the password preferably from TUNNEL_PROXYPASSWORD or a file).</summary>
    private static OutboundProxyOptions? ReadProxy(SettingsReader tunnel)
    {
        var text = tunnel.String("proxy")?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || string.IsNullOrEmpty(uri.Host))
        {
            tunnel.ErrorAt("proxy", $"'{Redact(text)}' is not an http:// proxy URL; write http://proxy.example:3128 (HTTPS and SOCKS proxies are not supported)");
            return null;
        }

        string? user = null;
        string? password = null;
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            password = colon < 0 ? null : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }

        user = tunnel.String("proxyUser")?.Trim() is { Length: > 0 } configuredUser ? configuredUser : user;
        password = tunnel.String("proxyPassword") ?? password;
        if (tunnel.FilePath("proxyPasswordFile", "the proxy password file", required: false) is { } file && File.Exists(file))
        {
            password = File.ReadLines(file).FirstOrDefault() ?? "";
        }

        if (password is not null && user is null)
        {
            tunnel.ErrorAt("proxy", "a proxy password is set but no user: set proxyUser (or http://user@host:port)");
        }

        var host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
        return new OutboundProxyOptions(new Net.HostPort(host, uri.Port), user, user is null ? null : password ?? "");
    }

    private static string Redact(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0 ? url.Replace(uri.UserInfo, "***", StringComparison.Ordinal) : url;

    public static List<SslApplicationProtocol>? ToApplicationProtocols(IReadOnlyList<string> alpn) =>
        alpn.Count == 0 ? null : alpn.Select(p => new SslApplicationProtocol(p)).ToList();
}
