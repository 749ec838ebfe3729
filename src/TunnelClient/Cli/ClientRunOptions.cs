using CommandLine;
using Tunnel.Cli;
using Tunnel.Common;

namespace Tunnel.Client.Cli;

/// <summary>Flags of the tunnels tunnel-client runs, shared by <c>run</c> and <c>diagnose</c>.</summary>
internal abstract class ClientFlags : CommonRunOptions
{
    internal override Config.Stunnel.StunnelRole StunnelRole => Config.Stunnel.StunnelRole.Client;

    [Option("server", Separator = ',', HelpText = "tunnel-server host:port (several: comma-separated, tried in order).")]
    [ConfigKey("servers")]
    public IEnumerable<string>? Servers { get; set; }

    [Option("server-name", HelpText = "Name the server certificate must carry. Default: the first server's host")]
    [ConfigKey("serverName")]
    public string? ServerName { get; set; }

    [Option("sni", HelpText = "SNI to send (a cover name); an empty value sends none. Default: the server name")]
    [ConfigKey("sni")]
    public string? Sni { get; set; }

    [Option("strategy", HelpText = "With several servers: failover (in order), round-robin or least-connections. Default: " + Defaults.Strategy)]
    [ConfigKey("strategy")]
    public string? Strategy { get; set; }

    [Option("health-check-interval", HelpText = "Probe each server with a TLS handshake this often; a server failing two probes is skipped until one succeeds; 0 disables. Default: " + Defaults.HealthCheckInterval)]
    [ConfigKey("healthCheckInterval")]
    public string? HealthCheckInterval { get; set; }

    [Option("hedge-delay", HelpText = "When a server has not completed the handshake after this long, also try the next one; 0 disables. Default: " + Defaults.HedgeDelay)]
    [ConfigKey("hedgeDelay")]
    public string? HedgeDelay { get; set; }

    [Option("proxy", HelpText = "Reach the servers through this HTTP proxy (CONNECT), e.g. http://proxy.corp:3128 or http://user@proxy.corp:3128; the password comes from TUNNEL_PROXYPASSWORD or --proxy-password-file. Default: direct")]
    [ConfigKey("proxy")]
    public string? Proxy { get; set; }

    [Option("proxy-password-file", HelpText = "File whose first line is the outbound proxy password (mode 0600). Default: none")]
    [ConfigKey("proxyPasswordFile")]
    public string? ProxyPasswordFile { get; set; }

    [Option("server-pins", Separator = ',', HelpText = "SPKI pins (sha256/BASE64, as `certs inspect` prints) of the server or its CA; one must match. Default: none")]
    [ConfigKey("serverPins")]
    public IEnumerable<string>? ServerPins { get; set; }

    [Option("pool-size", HelpText = "Verified TLS connections kept ready per tunnel, so a new connection pays no handshake; 0 disables. Default: 2")]
    [ConfigKey("poolSize")]
    public string? PoolSize { get; set; }

    [Option("multiplex", HelpText = "on: carry connections as streams over a few multiplexed TLS connections (tunnel-servers only; not stunnel). Default: off")]
    [ConfigKey("multiplex")]
    public string? Multiplex { get; set; }

    [Option("first-byte-timeout", HelpText = "Close a new connection that has sent nothing for this long; 0 leaves only the idle timeout. Default: " + Defaults.FirstByteTimeout)]
    [ConfigKey("firstByteTimeout")]
    public string? FirstByteTimeout { get; set; }

    [Option("max-connections-per-source", HelpText = "Concurrent connections from one local address; more are closed at once. Default: off")]
    [ConfigKey("maxConnectionsPerSource")]
    public string? MaxConnectionsPerSource { get; set; }

    [Option("alpn", Separator = ',', HelpText = "ALPN protocols to offer, e.g. h2,http/1.1. Default: none")]
    [ConfigKey("alpn")]
    public IEnumerable<string>? Alpn { get; set; }
}

[Verb("run", isDefault: true, HelpText = "Accept plain TCP (e.g. from Squid's cache_peer) and carry each connection over mutual TLS to a tunnel-server (the default verb).")]
internal sealed class ClientRunOptions : ClientFlags
{
}
