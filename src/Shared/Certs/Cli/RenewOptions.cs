using CommandLine;

namespace Tunnel.Certs.Cli;

[Verb("renew", HelpText = "Reissue a certificate with the same subject, SANs and kind and a new key. The old one stays valid (recorded as superseded) so deployed peers keep working until you roll out the new one.")]
internal sealed class RenewOptions : CertsOptions
{
    [Value(0, MetaName = "NAME", Required = true, HelpText = "The certificate to renew.")]
    public string? Name { get; set; }

    [Option("days", HelpText = "Validity of the new certificate in days. Default: " + CertsDefaults.ServerDays + " for a server, " + CertsDefaults.ClientDays + " for a client")]
    public int? Days { get; set; }

    [Option("revoke-old", HelpText = "Also revoke the old certificate (reason superseded); run 'crl' afterwards. Default: false")]
    public bool RevokeOld { get; set; }
}
