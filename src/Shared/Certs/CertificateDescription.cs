using System.Security.Cryptography.X509Certificates;
using Tunnel.Tls;

namespace Tunnel.Certs;

/// <summary>What <c>certs inspect</c> shows about one certificate; also its <c>--json</c> form.</summary>
internal sealed record CertificateDescription(
    string Subject,
    string Issuer,
    string Serial,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    string KeyType,
    bool IsCa,
    int? PathLength,
    bool SelfSigned,
    IReadOnlyList<string> SubjectAlternativeNames,
    IReadOnlyList<string> KeyUsage,
    IReadOnlyList<string> ExtendedKeyUsage,
    string? SubjectKeyIdentifier,
    string? AuthorityKeyIdentifier,
    string Sha256Fingerprint,
    string SpkiPin)
{
    private static readonly (X509KeyUsageFlags Flag, string Name)[] KeyUsageNames =
    [
        (X509KeyUsageFlags.DigitalSignature, "digitalSignature"),
        (X509KeyUsageFlags.NonRepudiation, "nonRepudiation"),
        (X509KeyUsageFlags.KeyEncipherment, "keyEncipherment"),
        (X509KeyUsageFlags.DataEncipherment, "dataEncipherment"),
        (X509KeyUsageFlags.KeyAgreement, "keyAgreement"),
        (X509KeyUsageFlags.KeyCertSign, "keyCertSign"),
        (X509KeyUsageFlags.CrlSign, "cRLSign"),
        (X509KeyUsageFlags.EncipherOnly, "encipherOnly"),
        (X509KeyUsageFlags.DecipherOnly, "decipherOnly"),
    ];

    public static CertificateDescription Of(X509Certificate2 certificate)
    {
        var basic = certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        var usage = certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        var eku = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        var ski = certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault();
        var aki = certificate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().FirstOrDefault();
        return new CertificateDescription(
            certificate.Subject,
            certificate.Issuer,
            PkiFolder.SerialOf(certificate),
            new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero),
            new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero),
            KeyAlgorithms.Describe(certificate),
            basic?.CertificateAuthority ?? false,
            basic is { CertificateAuthority: true, HasPathLengthConstraint: true } ? basic.PathLengthConstraint : null,
            IdentityLoader.IsSelfSigned(certificate),
            CertificateInfo.SubjectAlternativeNames(certificate),
            usage is null ? [] : KeyUsageNames.Where(k => usage.KeyUsages.HasFlag(k.Flag)).Select(k => k.Name).ToList(),
            eku is null ? [] : eku.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(UsageName).ToList(),
            ski?.SubjectKeyIdentifier,
            aki?.KeyIdentifier is { } keyId ? Convert.ToHexString(keyId.Span) : null,
            CertificateInfo.Sha256Fingerprint(certificate),
            CertificateInfo.SpkiPin(certificate));
    }

    private static string UsageName(System.Security.Cryptography.Oid oid) => oid.Value switch
    {
        KeyUsages.ServerAuthValue => "serverAuth",
        KeyUsages.ClientAuthValue => "clientAuth",
        "1.3.6.1.5.5.7.3.3" => "codeSigning",
        "1.3.6.1.5.5.7.3.4" => "emailProtection",
        "1.3.6.1.5.5.7.3.8" => "timeStamping",
        "1.3.6.1.5.5.7.3.9" => "OCSPSigning",
        _ => oid.Value ?? oid.FriendlyName ?? "?",
    };
}
