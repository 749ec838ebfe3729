using CommandLine;
using Tunnel.Cli;

namespace Tunnel.Server.Cli;

[Verb("run", isDefault: true, HelpText = "Accept TLS from tunnel clients, authenticate them, and forward to the upstream proxy (the default verb).")]
internal sealed class ServerRunOptions : CommonRunOptions
{
    [Option("upstream", Separator = ',', HelpText = "Upstream proxy host:port (several: comma-separated, tried in turn). The only destination traffic is forwarded to.")]
    [ConfigKey("upstreams")]
    public IEnumerable<string>? Upstreams { get; set; }

    [Option("upstream-dial", HelpText = "When to dial the upstream: first-byte (no upstream connection for idle or probe connections) or handshake (for server-speaks-first protocols). Default: first-byte")]
    [ConfigKey("upstreamDial")]
    public string? UpstreamDial { get; set; }
}
