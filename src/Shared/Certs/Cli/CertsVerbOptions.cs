using CommandLine;

namespace Tunnel.Certs.Cli;

/// <summary>Lists <c>certs</c> among the daemons' commands. The daemons hand <c>certs ...</c> to
/// <see cref="CertsProgram"/> before parsing, so this type is never the result of a parse.</summary>
[Verb("certs", HelpText = "Private CA and certificates: init-ca, issue, revoke, crl, list, inspect, renew, export-p12, export-k8s-secret. 'certs --help' lists them.")]
internal sealed class CertsVerbOptions
{
}
