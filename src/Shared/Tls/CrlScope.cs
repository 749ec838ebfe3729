using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace Tunnel.Tls;

/// <summary>The certificates one CRL speaks for, from its IssuingDistributionPoint extension (RFC 5280 §5.2.5): only
/// end-entity certificates, only CA certificates, and/or only certificates whose CRL distribution point is one of
/// <see cref="DistributionPointNames"/> (DER-encoded GeneralNames). A certificate outside the scope is not judged by
/// that CRL at all (§6.3.3 b): it needs another CRL that covers it.</summary>
internal sealed record CrlScope(bool OnlyUserCertificates, bool OnlyCaCertificates, IReadOnlyList<byte[]> DistributionPointNames)
{
    public static readonly CrlScope Everything = new(false, false, []);

    public bool IsEverything => !OnlyUserCertificates && !OnlyCaCertificates && DistributionPointNames.Count == 0;

    /// <summary>Groups CRLs of one issuer that can replace or update each other (a delta must have its base's scope).</summary>
    public string Key => $"{OnlyUserCertificates}|{OnlyCaCertificates}|{string.Join(",", DistributionPointNames.Select(Convert.ToHexString))}";

    public bool Covers(X509Certificate2 certificate)
    {
        var isCa = certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault()?.CertificateAuthority ?? false;
        if ((OnlyUserCertificates && isCa) || (OnlyCaCertificates && !isCa))
        {
            return false;
        }

        if (DistributionPointNames.Count == 0)
        {
            return true;
        }

        // The names the certificate gives for where its CRL is published; without a CRLDistributionPoints extension
        // the issuer's name stands for it (RFC 5280 §6.3.3 b.2.i, as BouncyCastle's PKIX validator does).
        var names = new List<byte[]>();
        var extension = certificate.Extensions["2.5.29.31"];
        if (extension is null)
        {
            names.Add(new GeneralName(X509Name.GetInstance(certificate.IssuerName.RawData)).GetEncoded(Asn1Encodable.Der));
        }
        else
        {
            DistributionPoint[] points;
            try
            {
                points = CrlDistPoint.GetInstance(Asn1Object.FromByteArray(extension.RawData)).GetDistributionPoints();
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or InvalidCastException or InvalidOperationException)
            {
                return false; // a malformed extension names no distribution point: no scoped CRL covers the certificate
            }

            foreach (var point in points)
            {
                if (point.DistributionPointName is { Type: DistributionPointName.FullName } full)
                {
                    names.AddRange(GeneralNames.GetInstance(full.Name).GetNames().Select(n => n.GetEncoded(Asn1Encodable.Der)));
                }
                else if (point.DistributionPointName is null && point.CrlIssuer is { } crlIssuer)
                {
                    names.AddRange(crlIssuer.GetNames().Select(n => n.GetEncoded(Asn1Encodable.Der)));
                }
            }
        }

        return names.Any(n => DistributionPointNames.Any(d => d.AsSpan().SequenceEqual(n)));
    }

    public override string ToString()
    {
        var parts = new List<string>();
        if (OnlyUserCertificates)
        {
            parts.Add("only end-entity certificates");
        }

        if (OnlyCaCertificates)
        {
            parts.Add("only CA certificates");
        }

        if (DistributionPointNames.Count > 0)
        {
            parts.Add("one distribution point: " + string.Join(", ", DistributionPointNames.Select(Describe)));
        }

        return parts.Count == 0 ? "all certificates" : string.Join("; ", parts);
    }

    private static string Describe(byte[] name)
    {
        var general = GeneralName.GetInstance(Asn1Object.FromByteArray(name));
        return general.TagNo == GeneralName.UniformResourceIdentifier ? DerIA5String.GetInstance(general.Name).GetString() : general.ToString();
    }
}
