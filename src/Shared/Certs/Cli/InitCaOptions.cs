using CommandLine;

namespace Tunnel.Certs.Cli;

[Verb("init-ca", HelpText = "Create the root CA (and with --intermediate an intermediate CA that issues the leaves) in the state folder.")]
internal sealed class InitCaOptions : CertsOptions
{
    [Option("cn", HelpText = "Common name of the root. Default: " + CertsDefaults.RootCommonName)]
    public string? CommonName { get; set; }

    [Option("org", HelpText = "Organization (O) in the CA subjects. Default: none")]
    public string? Organization { get; set; }

    [Option("days", HelpText = "Validity of the root in days. Default: " + CertsDefaults.RootDays + " (10 years)")]
    public int? Days { get; set; }

    [Option("key", HelpText = "Key type of the CA keys: " + KeyAlgorithms.Names + ". Default: " + CertsDefaults.Key)]
    public string? Key { get; set; }

    [Option("intermediate", HelpText = "Also create an intermediate CA signed by the root; it then issues every leaf and the root key can go offline. Default: false")]
    public bool Intermediate { get; set; }

    [Option("intermediate-cn", HelpText = "Common name of the intermediate. Default: " + CertsDefaults.IntermediateCommonName)]
    public string? IntermediateCommonName { get; set; }

    [Option("intermediate-days", HelpText = "Validity of the intermediate in days. Default: " + CertsDefaults.IntermediateDays + " (5 years)")]
    public int? IntermediateDays { get; set; }
}
