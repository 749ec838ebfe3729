using CommandLine;

namespace Tunnel.Certs.Cli;

[Verb("export-k8s-secret", HelpText = "Write a Kubernetes Secret manifest (type kubernetes.io/tls, mode 0600) for a certificate: tls.crt (certificate and intermediate), tls.key, ca.crt (root), the layout cert-manager writes. Apply it with kubectl apply -f.")]
internal sealed class ExportK8sSecretOptions : CertsOptions
{
    [Value(0, MetaName = "NAME", Required = true, HelpText = "The certificate to export.")]
    public string? Name { get; set; }

    [Option("secret-name", HelpText = "metadata.name of the Secret. Default: NAME in lower case, with characters other than a-z, 0-9, '-' and '.' replaced by '-'")]
    public string? SecretName { get; set; }

    [Option("namespace", HelpText = "metadata.namespace of the Secret. Default: none (kubectl's current namespace, or -n)")]
    public string? Namespace { get; set; }

    [Option("out", HelpText = "Output file; '-' writes to standard output. Default: <dir>/private/NAME-secret.yaml")]
    public string? Out { get; set; }
}
