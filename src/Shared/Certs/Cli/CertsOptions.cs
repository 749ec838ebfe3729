using CommandLine;

namespace Tunnel.Certs.Cli;

/// <summary>Flags every <c>certs</c> command accepts.</summary>
internal abstract class CertsOptions
{
    [Option("dir", HelpText = "State folder (CA, issued certificates, keys, CRL, index). Default: $" + CertsDefaults.DirectoryVariable + ", else " + CertsDefaults.Directory)]
    public string? Dir { get; set; }

    [Option("force", HelpText = "Overwrite existing files and replace existing entries. Without it nothing is ever overwritten. Default: false")]
    public bool Force { get; set; }

    public string Directory(CertsContext context) =>
        Dir ?? (context.Environment(CertsDefaults.DirectoryVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : CertsDefaults.Directory);
}
