using CommandLine;

namespace Tunnel.Certs.Cli;

[Verb("issue", HelpText = "Issue a server or client certificate: 'issue server NAME --dns a,b --ip 1.2.3.4' or 'issue client NAME [--uri spiffe://...]'. Signed by the intermediate if there is one, else the root.")]
internal sealed class IssueOptions : CertsOptions
{
    [Value(0, MetaName = "KIND", Required = true, HelpText = "server (extended key usage serverAuth) or client (clientAuth).")]
    public string? Kind { get; set; }

    [Value(1, MetaName = "NAME", Required = true, HelpText = "Subject CN and file stem (issued/NAME.pem, private/NAME.key): letters, digits, '.', '-', '_'.")]
    public string? Name { get; set; }

    [Option("dns", HelpText = "DNS names for the SAN, comma-separated (*.example.com allowed). Default for a server with neither --dns nor --ip: NAME")]
    public string? Dns { get; set; }

    [Option("ip", HelpText = "IP addresses for the SAN, comma-separated. Default: none")]
    public string? Ip { get; set; }

    [Option("uri", HelpText = "URIs for the SAN, comma-separated, e.g. spiffe://example.org/site/a. Default: none")]
    public string? Uri { get; set; }

    [Option("crl-url", HelpText = "URLs where you publish the CRL (crl.pem from `certs crl`), comma-separated, put in the certificate's CRL distribution points, e.g. http://pki.example.com/crl.pem. Default: none (the tunnel daemons never fetch it; other TLS tools and scanners read it)")]
    public string? CrlUrl { get; set; }

    [Option("days", HelpText = "Validity in days, never beyond the issuing CA's. Default: " + CertsDefaults.ServerDays + " for a server, " + CertsDefaults.ClientDays + " for a client")]
    public int? Days { get; set; }

    [Option("key", HelpText = "Key type: " + KeyAlgorithms.Names + ". Default: " + CertsDefaults.Key)]
    public string? Key { get; set; }
}
