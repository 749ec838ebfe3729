using CommandLine;

namespace Tunnel.Certs.Cli;

[Verb("crl", HelpText = "Write crl.pem: a CRL signed by the issuing CA (and, with an intermediate, the root's CRL after it), with the next CRL number.")]
internal sealed class CrlOptions : CertsOptions
{
    [Option("days", HelpText = "Days until the CRL's next update; regenerate before then. Default: " + CertsDefaults.CrlDays)]
    public int? Days { get; set; }
}
