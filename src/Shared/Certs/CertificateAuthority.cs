using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Tls;

namespace Tunnel.Certs;

/// <summary>The CA certificates of a state folder: the root and, if the folder has one, the intermediate that
/// issues the leaves. Loaded with their keys only when something is to be signed.</summary>
internal sealed class CertificateAuthority : IDisposable
{
    private CertificateAuthority(X509Certificate2 root, X509Certificate2? intermediate)
    {
        Root = root;
        Intermediate = intermediate;
    }

    public X509Certificate2 Root { get; }

    public X509Certificate2? Intermediate { get; }

    /// <summary>The CA that signs leaves (and their CRL).</summary>
    public X509Certificate2 Issuing => Intermediate ?? Root;

    /// <summary>What a leaf file carries after the leaf: the intermediate, never the root (peers must already have it).</summary>
    public IReadOnlyList<X509Certificate2> ChainBelowRoot => Intermediate is null ? [] : [Intermediate];

    /// <summary>Contents of <c>ca-bundle.pem</c>: the root (a trust anchor, being self-signed) then the intermediate.</summary>
    public IReadOnlyList<X509Certificate2> Bundle => Intermediate is null ? [Root] : [Root, Intermediate];

    public static CertificateAuthority Load(PkiLayout layout, bool withKeys)
    {
        if (!File.Exists(layout.RootCertificate))
        {
            throw new CertsException($"no CA in {layout.Directory}: run `certs init-ca` first");
        }

        var root = LoadOne(layout.RootCertificate, withKeys ? layout.RootKey : null);
        try
        {
            var intermediate = File.Exists(layout.IntermediateCertificate)
                ? LoadOne(layout.IntermediateCertificate, withKeys ? layout.IntermediateKey : null)
                : null;
            return new CertificateAuthority(root, intermediate);
        }
        catch
        {
            root.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Root.Dispose();
        Intermediate?.Dispose();
    }

    private static X509Certificate2 LoadOne(string certificatePath, string? keyPath)
    {
        try
        {
            if (keyPath is null)
            {
                return X509CertificateLoader.LoadCertificateFromFile(certificatePath);
            }

            if (!File.Exists(keyPath))
            {
                throw new CertsException($"the CA key {keyPath} is missing: this folder cannot sign. Restore the key, or start over with `certs init-ca --force`");
            }

            KeyFilePermissions.EnsurePrivate(keyPath);
            return X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (CertificateLoadException ex)
        {
            throw new CertsException(ex.Message);
        }
        catch (CryptographicException ex)
        {
            throw new CertsException($"cannot load the CA from {certificatePath}{(keyPath is null ? "" : " and " + keyPath)}: {ex.Message.TrimEnd('.')}");
        }
    }
}
