using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tls;

/// <summary>The CA certificates a peer must chain to. Self-signed certificates are the trust anchors; others in
/// the bundle are intermediates that help build chains. The system store is never consulted.</summary>
internal sealed record TrustBundle(X509Certificate2Collection Roots, X509Certificate2Collection Intermediates, string Source)
{
    public static TrustBundle Load(string path)
    {
        var all = new X509Certificate2Collection();
        try
        {
            all.ImportFromPemFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new CertificateLoadException($"cannot read CA bundle '{path}': {ex.Message}", ex);
        }

        if (all.Count == 0)
        {
            throw new CertificateLoadException($"CA bundle '{path}' contains no '-----BEGIN CERTIFICATE-----' block");
        }

        var roots = new X509Certificate2Collection();
        var intermediates = new X509Certificate2Collection();
        foreach (var cert in all)
        {
            (IdentityLoader.IsSelfSigned(cert) ? roots : intermediates).Add(cert);
        }

        if (roots.Count == 0)
        {
            throw new CertificateLoadException($"CA bundle '{path}' holds no root (self-signed) certificate; add the root CA that issued the peer's chain");
        }

        return new TrustBundle(roots, intermediates, path);
    }

    /// <summary>The root of this bundle with the same encoding as <paramref name="certificate"/>, or null.</summary>
    public X509Certificate2? FindRoot(X509Certificate2 certificate)
    {
        foreach (var root in Roots)
        {
            if (root.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
            {
                return root;
            }
        }

        return null;
    }

    /// <summary>A chain policy that trusts only this bundle, never fetches anything over the network, and requires
    /// the given extended key usage (serverAuth or clientAuth) on the peer's certificate.</summary>
    public X509ChainPolicy CreatePolicy(Oid requiredUsage)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.AddRange(Roots);
        policy.ExtraStore.AddRange(Intermediates);
        policy.ApplicationPolicy.Add(requiredUsage);
        return policy;
    }

    /// <summary>System trust (no CA configured), still without network fetches.</summary>
    public static X509ChainPolicy CreateSystemPolicy(Oid requiredUsage)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.System,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.ApplicationPolicy.Add(requiredUsage);
        return policy;
    }
}
