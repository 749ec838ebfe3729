using CommandLine;

namespace Tunnel.Certs.Cli;

[Verb("revoke", HelpText = "Record a certificate as revoked in the index. Does not write the CRL: run 'crl' afterwards and reload the servers.")]
internal sealed class RevokeOptions : CertsOptions
{
    [Value(0, MetaName = "NAME|SERIAL", Required = true, HelpText = "A name (its current certificate), or a serial number in hex (as 'list' shows it; a unique prefix will do).")]
    public string? Target { get; set; }

    [Option("reason", HelpText = "Why: keyCompromise, superseded, cessationOfOperation, affiliationChanged, caCompromise or unspecified. Default: unspecified")]
    public string? Reason { get; set; }
}
