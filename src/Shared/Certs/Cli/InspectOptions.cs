using CommandLine;

namespace Tunnel.Certs.Cli;

[Verb("inspect", HelpText = "Show the certificates in a PEM/DER file, or the chain a TLS server presents (HOST:PORT): subject, SANs, usages, fingerprint, SPKI pin; with --ca, a verdict.")]
internal sealed class InspectOptions
{
    [Value(0, MetaName = "FILE|HOST:PORT", Required = true, HelpText = "A certificate file (PEM, possibly several certificates, or DER), or a TLS server to connect to.")]
    public string? Target { get; set; }

    [Option("ca", HelpText = "CA bundle to judge the (first) certificate against, with the daemons' policy: trusted, unknown CA, expired, wrong usage, name mismatch. Default: no verdict")]
    public string? Ca { get; set; }

    [Option("servername", HelpText = "For HOST:PORT: the SNI to send and the name the certificate must match. Default: HOST")]
    public string? ServerName { get; set; }

    [Option("usage", HelpText = "For --ca: judge as a 'server' or 'client' certificate. Default: server for HOST:PORT; for a file, from the certificate's extended key usage")]
    public string? Usage { get; set; }

    [Option("timeout", HelpText = "For HOST:PORT: time allowed to connect and complete the handshake. Default: " + CertsDefaults.InspectTimeout)]
    public string? Timeout { get; set; }

    [Option("json", HelpText = "Print JSON. Default: false")]
    public bool Json { get; set; }
}
