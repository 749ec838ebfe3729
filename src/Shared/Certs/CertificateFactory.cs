using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Tls;

namespace Tunnel.Certs;

/// <summary>Creates CA and leaf certificates with the extensions RFC 5280 and TLS peers expect: basic constraints,
/// key usage, extended key usage, subject and authority key identifiers, and SANs. Built on .NET's own X.509 API.</summary>
internal static class CertificateFactory
{
    /// <summary>A self-signed root, or a certificate signed by <paramref name="issuer"/> (which must hold its key).
    /// The result carries its private key.</summary>
    public static X509Certificate2 Create(CertificateSpec spec, X509Certificate2? issuer = null)
    {
        if (spec.Kind == CertificateKind.Root ? issuer is not null : issuer is null)
        {
            throw new ArgumentException(spec.Kind == CertificateKind.Root ? "a root is self-signed" : "a non-root certificate needs an issuer", nameof(issuer));
        }

        using var key = CreateKey(spec.Key);
        var request = CreateRequest(spec, key);
        AddExtensions(request, spec, issuer);

        if (issuer is null)
        {
            return request.CreateSelfSigned(spec.NotBefore, spec.NotAfter);
        }

        // A certificate never outlives its issuer, nor starts before it (CertificateRequest refuses both).
        var (notBefore, notAfter) = ClampToIssuer(spec.NotBefore, spec.NotAfter, issuer);

        // The generator overload signs with the issuer's key whatever the subject's key type is: the
        // Create(X509Certificate2, ...) overload refuses an RSA CA issuing an ECDSA leaf and vice versa.
        using var signed = CreateSigned(request, issuer, notBefore, notAfter);
        return key switch
        {
            ECDsa ec => signed.CopyWithPrivateKey(ec),
            RSA rsa => signed.CopyWithPrivateKey(rsa),
            _ => throw new NotSupportedException(),
        };
    }

    /// <summary>The validity a certificate signed by <paramref name="issuer"/> actually gets.</summary>
    public static (DateTimeOffset NotBefore, DateTimeOffset NotAfter) ClampToIssuer(DateTimeOffset notBefore, DateTimeOffset notAfter, X509Certificate2 issuer)
    {
        var issuerNotBefore = new DateTimeOffset(issuer.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        var issuerNotAfter = new DateTimeOffset(issuer.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        return (notBefore < issuerNotBefore ? issuerNotBefore : notBefore, notAfter > issuerNotAfter ? issuerNotAfter : notAfter);
    }

    /// <summary>A random positive 128-bit serial (RFC 5280 §4.1.2.2 allows up to 20 octets).</summary>
    public static byte[] NewSerialNumber()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x40);
        return serial;
    }

    private static X509Certificate2 CreateSigned(CertificateRequest request, X509Certificate2 issuer, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var ecKey = issuer.GetECDsaPrivateKey();
        using var rsaKey = ecKey is null ? issuer.GetRSAPrivateKey() : null;
        var generator = ecKey is not null ? X509SignatureGenerator.CreateForECDsa(ecKey)
            : rsaKey is not null ? X509SignatureGenerator.CreateForRSA(rsaKey, RSASignaturePadding.Pkcs1)
            : throw new ArgumentException("the issuer certificate carries no ECDSA or RSA private key", nameof(issuer));
        return request.Create(issuer.SubjectName, generator, notBefore, notAfter, NewSerialNumber());
    }

    private static AsymmetricAlgorithm CreateKey(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa3072 => RSA.Create(3072),
        _ => ECDsa.Create(ECCurve.NamedCurves.nistP256),
    };

    private static CertificateRequest CreateRequest(CertificateSpec spec, AsymmetricAlgorithm key)
    {
        // The builder encodes components in the reverse order of the calls (display order, CN first), so this
        // encodes O before CN: the usual most-significant-first order that OpenSSL shows as "O = ..., CN = ...".
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(spec.CommonName);
        if (spec.Organization is { } organization)
        {
            subject.AddOrganizationName(organization);
        }
        var name = subject.Build();
        return key switch
        {
            ECDsa ec => new CertificateRequest(name, ec, HashAlgorithmName.SHA256),
            RSA rsa => new CertificateRequest(name, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => throw new NotSupportedException(),
        };
    }

    private static void AddExtensions(CertificateRequest request, CertificateSpec spec, X509Certificate2? issuer)
    {
        var isCa = spec.Kind is CertificateKind.Root or CertificateKind.Intermediate;
        request.CertificateExtensions.Add(isCa
            ? new X509BasicConstraintsExtension(true, spec.Kind == CertificateKind.Intermediate, 0, true)
            : new X509BasicConstraintsExtension(false, false, 0, true));

        var usage = isCa
            ? X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature
            : spec.Key == KeyAlgorithm.Rsa3072
                ? X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment
                : X509KeyUsageFlags.DigitalSignature;
        request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, critical: true));

        if (!isCa)
        {
            var eku = new OidCollection { spec.Kind == CertificateKind.Server ? KeyUsages.ServerAuth : KeyUsages.ClientAuth };
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(eku, critical: false));
        }

        var ski = new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false);
        request.CertificateExtensions.Add(ski);
        if (issuer is not null)
        {
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        }

        if (spec.CrlDistributionPoints.Count > 0)
        {
            request.CertificateExtensions.Add(CertificateRevocationListBuilder.BuildCrlDistributionPointExtension(
                spec.CrlDistributionPoints.Select(u => u.AbsoluteUri), critical: false));
        }

        if (spec.DnsNames.Count + spec.IpAddresses.Count + spec.Uris.Count > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var dns in spec.DnsNames)
            {
                san.AddDnsName(dns);
            }

            foreach (var ip in spec.IpAddresses)
            {
                san.AddIpAddress(ip);
            }

            foreach (var uri in spec.Uris)
            {
                san.AddUri(uri);
            }

            request.CertificateExtensions.Add(san.Build());
        }
    }
}
