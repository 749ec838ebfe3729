using CommandLine;

namespace Tunnel.Certs.Cli;

[Verb("export-p12", HelpText = "Write a password-protected PKCS#12 file (mode 0600) with a certificate, its key and its chain (intermediate, root).")]
internal sealed class ExportP12Options : CertsOptions
{
    [Value(0, MetaName = "NAME", Required = true, HelpText = "The certificate to export.")]
    public string? Name { get; set; }

    [Option("password-env", HelpText = "Environment variable holding the password. One of --password-env or --password-file is required")]
    public string? PasswordEnv { get; set; }

    [Option("password-file", HelpText = "File whose first line is the password")]
    public string? PasswordFile { get; set; }

    [Option("out", HelpText = "Output file. Default: <dir>/private/NAME.p12")]
    public string? Out { get; set; }
}
