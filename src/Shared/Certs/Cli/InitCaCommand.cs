using System.Security.Cryptography.X509Certificates;
using Tunnel.Common;
using Tunnel.Tls;

namespace Tunnel.Certs.Cli;

/// <summary><c>certs init-ca</c>: a root, optionally an intermediate, the bundle daemons trust, and a fresh index.</summary>
internal static class InitCaCommand
{
    public static async Task<int> RunAsync(InitCaOptions options, CertsContext context)
    {
        var key = CliValues.Key(options.Key);
        var rootDays = CliValues.Days(options.Days, CertsDefaults.RootDays);
        var intermediateDays = CliValues.Days(options.IntermediateDays, CertsDefaults.IntermediateDays, "--intermediate-days");
        var rootName = NonEmpty(options.CommonName, CertsDefaults.RootCommonName, "--cn");
        var intermediateName = NonEmpty(options.IntermediateCommonName, CertsDefaults.IntermediateCommonName, "--intermediate-cn");
        var organization = string.IsNullOrWhiteSpace(options.Organization) ? null : options.Organization.Trim();
        var directory = options.Directory(context);

        var layout = new PkiLayout(directory);
        var existing = new[] { layout.RootCertificate, layout.RootKey, layout.IntermediateCertificate, layout.IntermediateKey, layout.Bundle, layout.Crl, layout.Index }
            .Where(File.Exists).ToList();
        if (existing.Count > 0 && !options.Force)
        {
            throw new CertsException(
                $"a CA already exists in {directory} ({string.Join(", ", existing)}); nothing was changed. " +
                "Use another --dir, or --force to replace it (certificates it issued will no longer chain to the new CA)");
        }

        using var folder = PkiFolder.Create(directory);
        var replacedEntries = folder.Index.Certificates.Count(e => !e.IsCa);
        var now = context.Time.GetUtcNow();
        var notBefore = now - CertsDefaults.Backdate;
        using var root = CertificateFactory.Create(new CertificateSpec(CertificateKind.Root, rootName, notBefore, now.AddDays(rootDays))
        {
            Key = key,
            Organization = organization,
        });
        using var intermediate = options.Intermediate
            ? CertificateFactory.Create(new CertificateSpec(CertificateKind.Intermediate, intermediateName, notBefore, now.AddDays(intermediateDays))
            {
                Key = key,
                Organization = organization,
            }, root)
            : null;

        // Files of a replaced CA that the new one does not overwrite would be loaded as if they belonged to it.
        if (intermediate is null)
        {
            File.Delete(layout.IntermediateCertificate);
            File.Delete(layout.IntermediateKey);
        }

        var staleCrl = File.Exists(layout.Crl);
        File.Delete(layout.Crl);

        PemFiles.WritePrivateKey(layout.RootKey, root, options.Force);
        PemFiles.WriteCertificates(layout.RootCertificate, [root], options.Force);
        if (intermediate is not null)
        {
            PemFiles.WritePrivateKey(layout.IntermediateKey, intermediate, options.Force);
            PemFiles.WriteCertificates(layout.IntermediateCertificate, [intermediate], options.Force);
        }

        PemFiles.WriteCertificates(layout.Bundle, intermediate is null ? [root] : [root, intermediate], overwrite: true);

        var index = new PkiIndex().Add(CaEntry(root, PkiLayout.RootName, CertificateKind.Root, root, "ca.pem", "private/ca.key"));
        if (intermediate is not null)
        {
            index = index.Add(CaEntry(intermediate, PkiLayout.IntermediateName, CertificateKind.Intermediate, root, "intermediate.pem", "private/intermediate.key"));
        }

        folder.Save(index);

        var output = context.Out;
        await output.WriteLineAsync($"created root CA '{rootName}' ({KeyAlgorithms.Describe(root)}, serial {PkiFolder.SerialOf(root)}, valid until {CliValues.Date(Output.NotAfter(root))})");
        if (intermediate is not null)
        {
            await output.WriteLineAsync($"created intermediate CA '{intermediateName}' (serial {PkiFolder.SerialOf(intermediate)}, valid until {CliValues.Date(Output.NotAfter(intermediate))}); it issues every leaf");
        }

        await output.WriteLineAsync($"  {layout.RootCertificate,-32} root certificate");
        await output.WriteLineAsync($"  {layout.RootKey,-32} root key ({KeyFilePermissions.Octal(PemFiles.PrivateMode)}){(intermediate is null ? "" : "; only needed to sign a new intermediate or the root CRL: keep it offline")}");
        if (intermediate is not null)
        {
            await output.WriteLineAsync($"  {layout.IntermediateCertificate,-32} intermediate certificate");
            await output.WriteLineAsync($"  {layout.IntermediateKey,-32} intermediate key ({KeyFilePermissions.Octal(PemFiles.PrivateMode)})");
        }

        await output.WriteLineAsync($"  {layout.Bundle,-32} the 'ca' setting for tunnel-server and tunnel-client");
        await output.WriteLineAsync($"  {layout.Index,-32} index of issued certificates");
        if (replacedEntries > 0 || staleCrl)
        {
            await context.Error.WriteLineAsync($"warning: the previous CA was replaced; its {replacedEntries} leaf certificate(s) are no longer tracked and do not chain to the new CA" +
                (staleCrl ? $", and its {layout.Crl} was removed" : ""));
        }

        await output.WriteLineAsync("next: certs issue server NAME --dns NAME; certs issue client NAME; certs crl");
        return ExitCodes.Ok;
    }

    private static IndexEntry CaEntry(X509Certificate2 certificate, string name, CertificateKind kind, X509Certificate2 issuer, string file, string key) => new()
    {
        Serial = PkiFolder.SerialOf(certificate),
        Name = name,
        Kind = kind,
        Subject = certificate.Subject,
        IssuerSerial = PkiFolder.SerialOf(issuer),
        NotBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero),
        NotAfter = Output.NotAfter(certificate),
        Certificate = file,
        Key = key,
    };

    private static string NonEmpty(string? value, string fallback, string flag) =>
        value is null ? fallback : string.IsNullOrWhiteSpace(value) ? throw CliValues.Usage($"{flag} must not be empty") : value.Trim();
}
