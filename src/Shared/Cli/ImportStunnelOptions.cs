using CommandLine;

namespace Tunnel.Cli;

[Verb("import-stunnel", HelpText = "Print the Tunnel JSON configuration equivalent to a stunnel.conf (its services for this daemon: client = yes for tunnel-client, client = no for tunnel-server). Warnings and differences go to stderr; an option Tunnel cannot honour is an error naming its line. Exit code 0 when converted, 3 when not.")]
internal sealed class ImportStunnelOptions
{
    [Value(0, MetaName = "FILE", Required = true, HelpText = "The stunnel configuration file (includes are followed).")]
    public string File { get; set; } = "";

    [Option('o', "output", HelpText = "Write the JSON to this file instead of stdout.")]
    public string? Output { get; set; }
}
