using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tls;

/// <summary>How certificates are named in logs, errors and pins.</summary>
internal static class CertificateInfo
{
    private const string SanOid = "2.5.29.17";

    /// <summary>A short identity for log lines: the subject CN, else the first DNS or URI SAN, else the subject.</summary>
    public static string ShortName(X509Certificate2? certificate)
    {
        if (certificate is null)
        {
            return "-";
        }

        var cn = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (!string.IsNullOrEmpty(cn))
        {
            return "CN=" + cn;
        }

        var sans = SubjectAlternativeNames(certificate);
        return sans.Count > 0 ? sans[0] : certificate.Subject;
    }

    /// <summary>DNS names, IP addresses and URIs from the SAN extension, prefixed <c>DNS:</c>, <c>IP:</c>, <c>URI:</c>.</summary>
    public static IReadOnlyList<string> SubjectAlternativeNames(X509Certificate2 certificate)
    {
        var result = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                result.AddRange(san.EnumerateDnsNames().Select(n => "DNS:" + n));
                result.AddRange(san.EnumerateIPAddresses().Select(a => "IP:" + a));
                result.AddRange(Uris(extension.RawData).Select(u => "URI:" + u));
            }
            else if (extension.Oid?.Value == SanOid)
            {
                result.AddRange(Uris(extension.RawData).Select(u => "URI:" + u));
            }
        }

        return result;
    }

    public static IReadOnlyList<string> Uris(X509Certificate2 certificate) =>
        certificate.Extensions.Where(e => e.Oid?.Value == SanOid).SelectMany(e => Uris(e.RawData)).ToList();

    /// <summary>The URLs in the certificate's CRLDistributionPoints extension (full names only), in order.</summary>
    public static IReadOnlyList<string> CrlDistributionPoints(X509Certificate2 certificate)
    {
        if (certificate.Extensions["2.5.29.31"] is not { } extension)
        {
            return [];
        }

        try
        {
            return Org.BouncyCastle.Asn1.X509.CrlDistPoint.GetInstance(Org.BouncyCastle.Asn1.Asn1Object.FromByteArray(extension.RawData))
                .GetDistributionPoints()
                .Select(p => p.DistributionPointName)
                .Where(n => n?.Type == Org.BouncyCastle.Asn1.X509.DistributionPointName.FullName)
                .SelectMany(n => Org.BouncyCastle.Asn1.X509.GeneralNames.GetInstance(n!.Name).GetNames())
                .Where(g => g.TagNo == Org.BouncyCastle.Asn1.X509.GeneralName.UniformResourceIdentifier)
                .Select(g => Org.BouncyCastle.Asn1.DerIA5String.GetInstance(g.Name).GetString())
                .ToList();
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or InvalidCastException)
        {
            return [];
        }
    }

    /// <summary>The SHA-256 pin of the SubjectPublicKeyInfo, as <c>sha256/BASE64</c> (the HPKP form).</summary>
    public static string SpkiPin(X509Certificate2 certificate) =>
        "sha256/" + Convert.ToBase64String(SpkiHash(certificate));

    public static byte[] SpkiHash(X509Certificate2 certificate) =>
        SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo());

    public static string Sha256Fingerprint(X509Certificate2 certificate) =>
        Convert.ToHexString(SHA256.HashData(certificate.RawData));

    private static List<string> Uris(byte[] sanExtension)
    {
        var result = new List<string>();
        try
        {
            var reader = new AsnReader(sanExtension, AsnEncodingRules.DER).ReadSequence();
            var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
            while (reader.HasData)
            {
                var tag = reader.PeekTag();
                if (tag.HasSameClassAndValue(uriTag))
                {
                    result.Add(reader.ReadCharacterString(UniversalTagNumber.IA5String, uriTag));
                }
                else
                {
                    reader.ReadEncodedValue();
                }
            }
        }
        catch (AsnContentException)
        {
            // A malformed SAN yields no URIs; chain validation judges the certificate.
        }

        return result;
    }
}
