using CommandLine;

namespace Tunnel.Client.Cli;

[Verb("diagnose", HelpText = "Check, step by step with timings, everything a tunnel needs: configuration, certificates, DNS, TCP, the outbound proxy, the TLS handshake and the server's certificate, acceptance of the client certificate, and a round trip to the upstream proxy. Exit code 0 only when every step passes.")]
internal sealed class DiagnoseOptions : ClientFlags
{
    [Option("json", HelpText = "Print the report as JSON (for tools). Default: human-readable")]
    public bool Json { get; set; }

    [Option("tunnel", HelpText = "Check only this tunnel of the configuration. Default: all")]
    public string? Tunnel { get; set; }

    [Option("probe-url", HelpText = "The request sent through the tunnel to prove the round trip; any HTTP answer from the upstream proxy counts. Default: http://tunnel-diagnose.invalid/")]
    public string? ProbeUrl { get; set; }
}
