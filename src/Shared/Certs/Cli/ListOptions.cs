using CommandLine;

namespace Tunnel.Certs.Cli;

[Verb("list", HelpText = "List every certificate in the index with kind, name, serial, status (valid, revoked, expired) and expiry.")]
internal sealed class ListOptions : CertsOptions
{
    [Option("expiring", HelpText = "Only certificates that still need action (not revoked, not renewed) and expire within this window, e.g. 30d. Default: list all")]
    public string? Expiring { get; set; }

    [Option("json", HelpText = "Print JSON instead of a table. Default: false")]
    public bool Json { get; set; }
}
