using CommandLine;
using Tunnel.Cli;

namespace Tunnel.Server.Cli;

[Verb("run", isDefault: true, HelpText = "Accept TLS from tunnel clients, authenticate them, and forward to the upstream proxy (the default verb).")]
internal sealed class ServerRunOptions : CommonRunOptions
{
    internal override Config.Stunnel.StunnelRole StunnelRole => Config.Stunnel.StunnelRole.Server;

    [Option("upstream", Separator = ',', HelpText = "Upstream proxy host:port (several: comma-separated, tried in turn). The only destination traffic is forwarded to.")]
    [ConfigKey("upstreams")]
    public IEnumerable<string>? Upstreams { get; set; }

    [Option("crl", HelpText = "CRL file (PEM, one or more X509 CRL blocks) checked on every handshake; reloaded on SIGHUP and when it changes. Default: none")]
    [ConfigKey("crl")]
    public string? Crl { get; set; }

    [Option("allow", Separator = ',', HelpText = "Client identities allowed: cn:NAME, dns:NAME (dns:*.example for one label), uri:URI, spki:sha256/BASE64. Default: any client with a valid certificate")]
    [ConfigKey("allow")]
    public IEnumerable<string>? Allow { get; set; }

    [Option("allow-file", HelpText = "File with allowed client identities, one per line; reloaded like certificates. Default: none")]
    [ConfigKey("allowFile")]
    public string? AllowFile { get; set; }

    [Option("upstream-dial", HelpText = "When to dial the upstream: first-byte (no upstream connection for idle or probe connections) or handshake (for server-speaks-first protocols). Default: first-byte")]
    [ConfigKey("upstreamDial")]
    public string? UpstreamDial { get; set; }

    [Option("multiplex", HelpText = "Take up multiplexing when a tunnel-client asks for it (its multiplex option): on or off. Default: on")]
    [ConfigKey("multiplex")]
    public string? Multiplex { get; set; }

    [Option("proxy-protocol", HelpText = "Require a PROXY protocol header from a load balancer before TLS: off, v1, v2 or any. Default: off")]
    [ConfigKey("proxyProtocol")]
    public string? ProxyProtocol { get; set; }

    [Option("upstream-proxy-protocol", HelpText = "Send a PROXY protocol header with the real client address to the upstream: off, v1 or v2. Default: off")]
    [ConfigKey("upstreamProxyProtocol")]
    public string? UpstreamProxyProtocol { get; set; }

    [Option("max-connections-per-source", HelpText = "Concurrent connections from one client address; more are refused before the handshake. Default: off")]
    [ConfigKey("maxConnectionsPerSource")]
    public string? MaxConnectionsPerSource { get; set; }

    [Option("max-connections-per-identity", HelpText = "Concurrent connections per client certificate; more are refused after authentication. Default: off")]
    [ConfigKey("maxConnectionsPerIdentity")]
    public string? MaxConnectionsPerIdentity { get; set; }

    [Option("handshake-rate", HelpText = "New TLS handshakes allowed per second or minute (e.g. 50/s); more are refused. Default: off")]
    [ConfigKey("handshakeRate")]
    public string? HandshakeRate { get; set; }

    [Option("handshake-burst", HelpText = "Handshakes allowed at once above --handshake-rate after a quiet spell. Default: one second's (or minute's) worth")]
    [ConfigKey("handshakeBurst")]
    public string? HandshakeBurst { get; set; }

    [Option("decoy", HelpText = "host:port of a web server that clients without a valid certificate are relayed to, so probers see an ordinary website. Default: none (refuse them)")]
    [ConfigKey("decoy")]
    public string? Decoy { get; set; }

    [Option("alpn", Separator = ',', HelpText = "ALPN protocols the server may select, most preferred first (e.g. http/1.1 with a decoy). Default: none")]
    [ConfigKey("alpn")]
    public IEnumerable<string>? Alpn { get; set; }
}
