using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tls;

/// <summary>Loads a daemon's own certificate and key, refusing what an operator would regret: a key others can read,
/// a certificate that has expired or is not yet valid, a key that does not match the certificate.</summary>
internal static class IdentityLoader
{
    public static TlsIdentity Load(IdentityOptions options, TimeProvider time)
    {
        var (leaf, intermediates, source) = options.Pkcs12Path is not null ? LoadPkcs12(options) : LoadPem(options);

        var now = time.GetUtcNow();
        if (now.UtcDateTime > leaf.NotAfter.ToUniversalTime())
        {
            throw new CertificateLoadException(
                $"certificate '{source}' ({CertificateInfo.ShortName(leaf)}) expired on {leaf.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC; " +
                "issue a new one (certs renew NAME) and reload (SIGHUP)");
        }

        if (now.UtcDateTime < leaf.NotBefore.ToUniversalTime())
        {
            throw new CertificateLoadException(
                $"certificate '{source}' ({CertificateInfo.ShortName(leaf)}) is not valid before {leaf.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC; " +
                "check this host's clock, or wait");
        }

        var context = SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
        return new TlsIdentity(leaf, intermediates, context, source);
    }

    private static (X509Certificate2 Leaf, X509Certificate2Collection Intermediates, string Source) LoadPem(IdentityOptions options)
    {
        var certPath = options.CertificatePath ?? throw new CertificateLoadException("no certificate configured (set 'cert')");
        var keyPath = options.KeyPath ?? certPath;
        KeyFilePermissions.EnsurePrivate(keyPath);

        string certPem;
        string keyPem;
        try
        {
            certPem = File.ReadAllText(certPath);
            keyPem = keyPath == certPath ? certPem : File.ReadAllText(keyPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CertificateLoadException($"cannot read '{(ex.Message.Contains(keyPath, StringComparison.Ordinal) ? keyPath : certPath)}': {ex.Message}", ex);
        }

        var all = new X509Certificate2Collection();
        try
        {
            all.ImportFromPem(certPem);
        }
        catch (CryptographicException ex)
        {
            throw new CertificateLoadException($"'{certPath}' is not a PEM certificate file: {ex.Message}", ex);
        }

        if (all.Count == 0)
        {
            throw new CertificateLoadException($"'{certPath}' contains no '-----BEGIN CERTIFICATE-----' block");
        }

        X509Certificate2 leaf;
        try
        {
            leaf = keyPem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromEncryptedPem(certPem, keyPem, ReadPassword(options, keyPath))
                : X509Certificate2.CreateFromPem(certPem, keyPem);
        }
        catch (Exception ex) when (ex is CryptographicException or PlatformNotSupportedException)
        {
            // PlatformNotSupportedException: a key on a curve OpenSSL does not know (found by fuzzing).
            throw new CertificateLoadException(
                $"cannot use the private key in '{keyPath}' with the certificate in '{certPath}': {ex.Message.TrimEnd('.')} " +
                "(is it the key this certificate was issued for, in PEM?)", ex);
        }
        catch (ArgumentException ex)
        {
            throw new CertificateLoadException($"'{keyPath}' contains no PEM private key: {ex.Message}", ex);
        }

        var intermediates = new X509Certificate2Collection();
        foreach (var cert in all.Skip(1))
        {
            intermediates.Add(cert);
        }

        return (leaf, intermediates, certPath);
    }

    private static (X509Certificate2 Leaf, X509Certificate2Collection Intermediates, string Source) LoadPkcs12(IdentityOptions options)
    {
        var path = options.Pkcs12Path!;
        KeyFilePermissions.EnsurePrivate(path);
        X509Certificate2Collection all;
        try
        {
            all = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, ReadPassword(options, path), X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (CryptographicException ex)
        {
            throw new CertificateLoadException($"cannot open PKCS#12 file '{path}': {ex.Message.TrimEnd('.')} (wrong password, or not a PKCS#12 file?)", ex);
        }

        var leaf = all.FirstOrDefault(c => c.HasPrivateKey)
            ?? throw new CertificateLoadException($"PKCS#12 file '{path}' holds no private key");
        var intermediates = new X509Certificate2Collection();
        foreach (var cert in all)
        {
            if (!ReferenceEquals(cert, leaf) && !IsSelfSigned(cert))
            {
                intermediates.Add(cert);
            }
        }

        return (leaf, intermediates, path);
    }

    private static string? ReadPassword(IdentityOptions options, string forFile)
    {
        if (options.PasswordEnvironmentVariable is { } variable)
        {
            return Environment.GetEnvironmentVariable(variable)
                ?? throw new CertificateLoadException($"'{forFile}' needs a password: environment variable {variable} is not set");
        }

        if (options.PasswordFile is { } file)
        {
            KeyFilePermissions.EnsurePrivate(file);
            return File.ReadLines(file).FirstOrDefault() ?? "";
        }

        return null;
    }

    internal static bool IsSelfSigned(X509Certificate2 certificate) =>
        certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);
}
