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

        // A certificate cannot outlive or predate its issuer (CertificateRequest.Create enforces it).
        var notBefore = spec.NotBefore;
        var notAfter = spec.NotAfter;
        if (issuer is not null)
        {
            notBefore = Max(notBefore, new DateTimeOffset(issuer.NotBefore.ToUniversalTime(), TimeSpan.Zero));
            notAfter = Min(notAfter, new DateTimeOffset(issuer.NotAfter.ToUniversalTime(), TimeSpan.Zero));
        }

        if (issuer is null)
        {
            return request.CreateSelfSigned(notBefore, notAfter);
        }

        using var signed = request.Create(issuer, notBefore, notAfter, NewSerialNumber());
        return key switch
        {
            ECDsa ec => signed.CopyWithPrivateKey(ec),
            RSA rsa => signed.CopyWithPrivateKey(rsa),
            _ => throw new NotSupportedException(),
        };
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>A random positive 128-bit serial (RFC 5280 §4.1.2.2 allows up to 20 octets).</summary>
    public static byte[] NewSerialNumber()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x40);
        return serial;
    }

    private static AsymmetricAlgorithm CreateKey(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa3072 => RSA.Create(3072),
        _ => ECDsa.Create(ECCurve.NamedCurves.nistP256),
    };

    private static CertificateRequest CreateRequest(CertificateSpec spec, AsymmetricAlgorithm key)
    {
        var subject = new X500DistinguishedNameBuilder();
        if (spec.Organization is { } organization)
        {
            subject.AddOrganizationName(organization);
        }

        subject.AddCommonName(spec.CommonName);
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
