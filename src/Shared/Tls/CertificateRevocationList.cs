using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tls;

/// <summary>One parsed X.509 CRL (RFC 5280 §5): who issued it, when it must be replaced, and which serials it
/// revokes. .NET can build CRLs but not enumerate one, so this reads the DER directly.</summary>
internal sealed class CertificateRevocationList
{
    private static readonly Dictionary<string, HashAlgorithmName> EcdsaAlgorithms = new()
    {
        ["1.2.840.10045.4.3.2"] = HashAlgorithmName.SHA256,
        ["1.2.840.10045.4.3.3"] = HashAlgorithmName.SHA384,
        ["1.2.840.10045.4.3.4"] = HashAlgorithmName.SHA512,
    };

    private static readonly Dictionary<string, HashAlgorithmName> RsaAlgorithms = new()
    {
        ["1.2.840.113549.1.1.11"] = HashAlgorithmName.SHA256,
        ["1.2.840.113549.1.1.12"] = HashAlgorithmName.SHA384,
        ["1.2.840.113549.1.1.13"] = HashAlgorithmName.SHA512,
    };

    private readonly byte[] _tbs;
    private readonly string _signatureAlgorithm;
    private readonly byte[] _signature;

    private CertificateRevocationList(X500DistinguishedName issuer, DateTimeOffset thisUpdate, DateTimeOffset? nextUpdate,
        HashSet<string> revoked, byte[] tbs, string signatureAlgorithm, byte[] signature)
    {
        Issuer = issuer;
        ThisUpdate = thisUpdate;
        NextUpdate = nextUpdate;
        Revoked = revoked;
        _tbs = tbs;
        _signatureAlgorithm = signatureAlgorithm;
        _signature = signature;
    }

    public X500DistinguishedName Issuer { get; }

    public DateTimeOffset ThisUpdate { get; }

    public DateTimeOffset? NextUpdate { get; }

    /// <summary>Revoked serials, canonical (see <see cref="RevokedSerials"/>).</summary>
    public IReadOnlySet<string> Revoked { get; }

    /// <summary>Parses one DER-encoded CRL. Throws <see cref="CertificateLoadException"/> when it is malformed.</summary>
    public static CertificateRevocationList Parse(byte[] der, string source)
    {
        try
        {
            var outer = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            var tbsEncoded = outer.ReadEncodedValue().ToArray();
            var signatureAlgorithm = outer.ReadSequence().ReadObjectIdentifier();
            var signature = outer.ReadBitString(out _);

            var tbs = new AsnReader(tbsEncoded, AsnEncodingRules.DER).ReadSequence();
            if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                tbs.ReadInteger(); // version v2
            }

            tbs.ReadSequence(); // inner signature algorithm
            var issuer = new X500DistinguishedName(tbs.ReadEncodedValue().Span);
            var thisUpdate = ReadTime(tbs);
            DateTimeOffset? nextUpdate = null;
            if (tbs.HasData && IsTime(tbs.PeekTag()))
            {
                nextUpdate = ReadTime(tbs);
            }

            var revoked = new HashSet<string>(StringComparer.Ordinal);
            if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                var entries = tbs.ReadSequence();
                while (entries.HasData)
                {
                    var entry = entries.ReadSequence();
                    revoked.Add(RevokedSerials.Canonical(entry.ReadIntegerBytes().Span));
                }
            }

            return new CertificateRevocationList(issuer, thisUpdate, nextUpdate, revoked, tbsEncoded, signatureAlgorithm, signature);
        }
        catch (AsnContentException ex)
        {
            throw new CertificateLoadException($"CRL file '{source}' holds a malformed CRL: {ex.Message}", ex);
        }
    }

    /// <summary>Reads every CRL in a PEM file (several <c>X509 CRL</c> blocks allowed) or one DER CRL.</summary>
    public static IReadOnlyList<CertificateRevocationList> LoadFile(string path)
    {
        byte[] content;
        try
        {
            content = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CertificateLoadException($"cannot read CRL file '{path}': {ex.Message}", ex);
        }

        if (content.Length > 0 && content[0] == 0x30)
        {
            return [Parse(content, path)];
        }

        var text = System.Text.Encoding.ASCII.GetString(content).AsSpan();
        var result = new List<CertificateRevocationList>();
        while (PemEncoding.TryFind(text, out var fields))
        {
            if (text[fields.Label].SequenceEqual("X509 CRL"))
            {
                result.Add(Parse(Convert.FromBase64String(text[fields.Base64Data].ToString()), path));
            }

            text = text[fields.Location.End..];
        }

        if (result.Count == 0)
        {
            throw new CertificateLoadException($"CRL file '{path}' contains no '-----BEGIN X509 CRL-----' block");
        }

        return result;
    }

    /// <summary>True when <paramref name="issuer"/>'s key signed this CRL.</summary>
    public bool IsSignedBy(X509Certificate2 issuer)
    {
        if (EcdsaAlgorithms.TryGetValue(_signatureAlgorithm, out var ecHash) && issuer.GetECDsaPublicKey() is { } ec)
        {
            using (ec)
            {
                return ec.VerifyData(_tbs, _signature, ecHash, DSASignatureFormat.Rfc3279DerSequence);
            }
        }

        if (RsaAlgorithms.TryGetValue(_signatureAlgorithm, out var rsaHash) && issuer.GetRSAPublicKey() is { } rsa)
        {
            using (rsa)
            {
                return rsa.VerifyData(_tbs, _signature, rsaHash, RSASignaturePadding.Pkcs1);
            }
        }

        return false;
    }

    private static bool IsTime(Asn1Tag tag) =>
        tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();
}
