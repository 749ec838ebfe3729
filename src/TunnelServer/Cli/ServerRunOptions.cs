using CommandLine;
using Tunnel.Cli;

namespace Tunnel.Server.Cli;

[Verb("run", isDefault: true, HelpText = "Accept TLS from tunnel clients, authenticate them, and forward to the upstream proxy (the default verb).")]
internal sealed class ServerRunOptions : CommonRunOptions
{
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
}
