using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using Tunnel.Common;
using Tunnel.Tls;

namespace Tunnel.Certs.Cli;

/// <summary><c>certs export-k8s-secret NAME</c>: a <c>kubernetes.io/tls</c> Secret manifest with <c>tls.crt</c>,
/// <c>tls.key</c> and <c>ca.crt</c>, what cert-manager writes, so the daemons' Kubernetes manifests take either.</summary>
internal static partial class ExportK8sSecretCommand
{
    public static async Task<int> RunAsync(ExportK8sSecretOptions options, CertsContext context)
    {
        var name = CliValues.Name(options.Name);
        var secretName = options.SecretName ?? DefaultSecretName(name);
        if (!DnsSubdomain().IsMatch(secretName) || secretName.Length > 253)
        {
            throw CliValues.Usage($"--secret-name '{secretName}' is not a valid Kubernetes name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)");
        }

        if (options.Namespace is { } ns && (!DnsLabel().IsMatch(ns) || ns.Length > 63))
        {
            throw CliValues.Usage($"--namespace '{ns}' is not a valid Kubernetes namespace (lower-case letters, digits and '-', at most 63)");
        }

        using var folder = PkiFolder.Open(options.Directory(context), write: false);
        var entry = folder.Index.Current(name)
            ?? throw new CertsException($"no certificate named '{name}' in {folder.Layout.Directory}; `certs list` shows them");
        if (entry.Status == EntryStatus.Revoked)
        {
            throw new CertsException($"'{name}' (serial {entry.Serial}) is revoked; issue a new one before exporting it");
        }

        var toStdout = options.Out == "-";
        var output = toStdout ? null : options.Out ?? folder.Layout.Combine(Path.Combine("private", name + "-secret.yaml"));
        if (output is not null)
        {
            PkiFolder.EnsureAbsent([output], options.Force, "not exported");
        }

        var certificatePath = folder.Layout.Combine(entry.Certificate);
        var keyPath = folder.Layout.Combine(entry.Key ?? PkiLayout.RelativeKey(name));
        X509Certificate2 leaf;
        string keyPem;
        try
        {
            KeyFilePermissions.EnsurePrivate(keyPath);
            leaf = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            keyPem = await File.ReadAllTextAsync(keyPath);
        }
        catch (CertificateLoadException ex)
        {
            throw new CertsException(ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new CertsException($"cannot load '{name}' from {certificatePath} and {keyPath}: {ex.Message.TrimEnd('.')}");
        }

        using (leaf)
        using (var ca = folder.LoadCaCertificates())
        {
            var chain = new StringBuilder(leaf.ExportCertificatePem()).Append('\n');
            if (ca.Intermediate is not null && string.Equals(entry.IssuerSerial, PkiFolder.SerialOf(ca.Intermediate), StringComparison.OrdinalIgnoreCase))
            {
                chain.Append(ca.Intermediate.ExportCertificatePem()).Append('\n');
            }

            var manifest = new StringBuilder()
                .Append("# '").Append(name).Append("' (serial ").Append(entry.Serial).Append("), valid until ")
                .Append(leaf.NotAfter.ToUniversalTime().ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture)).Append(" UTC. Holds a private key: apply it, then delete this file.\n")
                .Append("apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata:\n  name: ").Append(secretName).Append('\n');
            if (options.Namespace is { } space)
            {
                manifest.Append("  namespace: ").Append(space).Append('\n');
            }

            manifest.Append("data:\n")
                .Append("  tls.crt: ").Append(Base64(chain.ToString())).Append('\n')
                .Append("  tls.key: ").Append(Base64(keyPem)).Append('\n')
                .Append("  ca.crt: ").Append(Base64(ca.Root.ExportCertificatePem() + "\n")).Append('\n');

            if (output is null)
            {
                await context.Out.WriteAsync(manifest.ToString());
                return ExitCodes.Ok;
            }

            PemFiles.Write(output, manifest.ToString(), PemFiles.PrivateMode, options.Force);
            await context.Out.WriteLineAsync($"wrote {output} ({KeyFilePermissions.Octal(PemFiles.PrivateMode)}): Secret '{secretName}' (kubernetes.io/tls: tls.crt, tls.key, ca.crt) " +
                $"for '{name}' (serial {entry.Serial}); kubectl apply -f {output}");
        }

        return ExitCodes.Ok;
    }

    internal static string DefaultSecretName(string name)
    {
        var lower = NotAllowed().Replace(name.ToLowerInvariant(), "-").Trim('-', '.');
        return lower.Length == 0 ? "tunnel-tls" : lower;
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [GeneratedRegex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("[^a-z0-9.-]")]
    private static partial Regex NotAllowed();
}
