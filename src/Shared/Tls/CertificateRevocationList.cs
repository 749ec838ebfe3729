using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Security;
using BcCrl = Org.BouncyCastle.X509.X509Crl;

namespace Tunnel.Tls;

/// <summary>One parsed X.509 CRL (RFC 5280 §5), read and verified with BouncyCastle: who issued it, its number (and
/// for a delta CRL the number of the complete CRL it updates), its scope (IssuingDistributionPoint), when it must be
/// replaced, and which serials it revokes or (delta only) removes. A CRL this class cannot honour fully is refused
/// at parse time, never half-used: a critical extension it does not process (§5.2, §5.3), outer and inner signature
/// algorithms that differ (§5.1.1.2), an indirect CRL, a CRL partitioned by reason, or a removeFromCRL entry in a
/// complete CRL.</summary>
internal sealed class CertificateRevocationList
{
    // CRL extensions this class processes (the critical ones among them change what the CRL means and are read here)
    // or may safely ignore (informational, non-critical by RFC 5280).
    private static readonly HashSet<string> UnderstoodCrlExtensions =
    [
        X509Extensions.CrlNumber.Id,
        X509Extensions.DeltaCrlIndicator.Id,
        X509Extensions.IssuingDistributionPoint.Id,
        X509Extensions.AuthorityKeyIdentifier.Id,
        X509Extensions.IssuerAlternativeName.Id,
        X509Extensions.FreshestCrl.Id,
        X509Extensions.AuthorityInfoAccess.Id,
    ];

    private static readonly HashSet<string> UnderstoodEntryExtensions =
    [
        X509Extensions.ReasonCode.Id,
        X509Extensions.InvalidityDate.Id,
        X509Extensions.InstructionCode.Id,
    ];

    private readonly BcCrl _crl;

    private CertificateRevocationList(BcCrl crl, X500DistinguishedName issuer, string source, System.Numerics.BigInteger? number,
        System.Numerics.BigInteger? baseNumber, CrlScope scope, HashSet<string> revoked, HashSet<string> removed)
    {
        _crl = crl;
        Issuer = issuer;
        Source = source;
        ThisUpdate = Utc(crl.ThisUpdate);
        NextUpdate = crl.NextUpdate is { } next ? Utc(next) : null;
        Number = number;
        BaseNumber = baseNumber;
        Scope = scope;
        Revoked = revoked;
        Removed = removed;
    }

    public X500DistinguishedName Issuer { get; }

    /// <summary>The file it came from.</summary>
    public string Source { get; }

    public DateTimeOffset ThisUpdate { get; }

    public DateTimeOffset? NextUpdate { get; }

    /// <summary>The CRLNumber extension (RFC 5280 §5.2.3); null when the CRL has none.</summary>
    public System.Numerics.BigInteger? Number { get; }

    /// <summary>The DeltaCRLIndicator's BaseCRLNumber (§5.2.4): set only on a delta CRL.</summary>
    public System.Numerics.BigInteger? BaseNumber { get; }

    public bool IsDelta => BaseNumber is not null;

    /// <summary>Which certificates the CRL covers (IssuingDistributionPoint, §5.2.5); everything when it has none.</summary>
    public CrlScope Scope { get; }

    /// <summary>Revoked serials, canonical (see <see cref="RevokedSerials"/>); certificateHold counts as revoked.</summary>
    public IReadOnlySet<string> Revoked { get; }

    /// <summary>Serials a delta CRL lists with reason removeFromCRL (released from hold): they leave the base's list.</summary>
    public IReadOnlySet<string> Removed { get; }

    /// <summary>"CRL number 5 of 'CN=Root'" or "delta CRL number 6 (base 5) of 'CN=Root'", for messages.</summary>
    public string Description =>
        $"{(IsDelta ? "delta CRL" : "CRL")}{(Number is { } n ? $" number {n}" : "")}{(IsDelta ? $" (base {BaseNumber})" : "")} of '{Issuer.Name}'" +
        (Scope.IsEverything ? "" : $" ({Scope})");

    /// <summary>Parses one DER-encoded CRL. Throws <see cref="CertificateLoadException"/> when it is malformed or uses a
    /// feature this product cannot honour (the message names the feature and the RFC 5280 section).</summary>
    public static CertificateRevocationList Parse(byte[] der, string source)
    {
        try
        {
            return ParseChecked(der, source);
        }
        catch (CertificateLoadException)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // BouncyCastle reports malformed input with many exception types; a reload must see one it handles.
            throw new CertificateLoadException($"CRL file '{source}' holds a malformed CRL: {ex.GetType().Name}: {ex.Message}", ex);
        }
    }

    private static CertificateRevocationList ParseChecked(byte[] der, string source)
    {
        var list = CertificateList.GetInstance(Asn1Object.FromByteArray(der));
        var issuer = new X500DistinguishedName(list.Issuer.GetEncoded(Asn1Encodable.Der));
        string Refuse(string why) => $"CRL file '{source}': the CRL of '{issuer.Name}' is refused: {why}";

        var tbs = list.TbsCertList;
        if (!list.SignatureAlgorithm.Equals(tbs.Signature))
        {
            throw new CertificateLoadException(Refuse(
                $"its signature algorithm ({list.SignatureAlgorithm.Algorithm.Id}) differs from the one inside the signed part " +
                $"({tbs.Signature.Algorithm.Id}); RFC 5280 §5.1.1.2 requires them to be the same"));
        }

        System.Numerics.BigInteger? number = null;
        System.Numerics.BigInteger? baseNumber = null;
        var scope = CrlScope.Everything;
        if (tbs.Extensions is { } extensions)
        {
            foreach (var oid in extensions.GetExtensionOids())
            {
                var extension = extensions.GetExtension(oid);
                if (extension.IsCritical && !UnderstoodCrlExtensions.Contains(oid.Id))
                {
                    throw new CertificateLoadException(Refuse(
                        $"it carries the critical extension {oid.Id}, which this program does not process (RFC 5280 §5.2: such a CRL must not be used)"));
                }
            }

            try
            {
                if (extensions.GetExtension(X509Extensions.CrlNumber) is { } crlNumber)
                {
                    number = ToBigInteger(DerInteger.GetInstance(crlNumber.GetParsedValue()).Value);
                }

                if (extensions.GetExtension(X509Extensions.DeltaCrlIndicator) is { } delta)
                {
                    baseNumber = ToBigInteger(DerInteger.GetInstance(delta.GetParsedValue()).Value);
                }

                if (extensions.GetExtension(X509Extensions.IssuingDistributionPoint) is { } idp)
                {
                    scope = ReadScope(IssuingDistributionPoint.GetInstance(idp.GetParsedValue()), Refuse);
                }
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidCastException or IOException)
            {
                throw new CertificateLoadException($"CRL file '{source}' holds a malformed CRL extension: {ex.Message}", ex);
            }
        }

        if (baseNumber is not null && number is null)
        {
            throw new CertificateLoadException(Refuse("it is a delta CRL without a CRL number (RFC 5280 §5.2.4 requires one)"));
        }

        var revoked = new HashSet<string>(StringComparer.Ordinal);
        var removed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in tbs.GetRevokedCertificates())
        {
            var serial = RevokedSerials.Canonical(entry.UserCertificate.Value.ToByteArray());
            var removeFromCrl = false;
            if (entry.Extensions is { } entryExtensions)
            {
                foreach (var oid in entryExtensions.GetExtensionOids())
                {
                    if (oid.Equals(X509Extensions.CertificateIssuer))
                    {
                        throw new CertificateLoadException(Refuse(
                            $"it is an indirect CRL (entry for serial {serial} names another certificate issuer); indirect CRLs are not supported"));
                    }

                    if (entryExtensions.GetExtension(oid).IsCritical && !UnderstoodEntryExtensions.Contains(oid.Id))
                    {
                        throw new CertificateLoadException(Refuse(
                            $"its entry for serial {serial} carries the critical extension {oid.Id}, which this program does not process (RFC 5280 §5.3)"));
                    }
                }

                if (entryExtensions.GetExtension(X509Extensions.ReasonCode) is { } reason)
                {
                    removeFromCrl = DerEnumerated.GetInstance(reason.GetParsedValue()).IntValueExact == CrlReason.RemoveFromCrl;
                }
            }

            if (removeFromCrl && baseNumber is null)
            {
                throw new CertificateLoadException(Refuse(
                    $"its entry for serial {serial} has reason removeFromCRL, which only a delta CRL may carry (RFC 5280 §5.3.1)"));
            }

            (removeFromCrl ? removed : revoked).Add(serial);
        }

        return new CertificateRevocationList(new BcCrl(list), issuer, source, number, baseNumber, scope, revoked, removed);
    }

    private static CrlScope ReadScope(IssuingDistributionPoint idp, Func<string, string> refuse)
    {
        if (idp.IsIndirectCrl)
        {
            throw new CertificateLoadException(refuse("its IssuingDistributionPoint marks it as an indirect CRL; indirect CRLs are not supported"));
        }

        if (idp.OnlySomeReasons is not null)
        {
            throw new CertificateLoadException(refuse(
                "its IssuingDistributionPoint limits it to some revocation reasons (onlySomeReasons); CRLs partitioned by reason are not supported"));
        }

        if (idp.OnlyContainsAttributeCerts)
        {
            throw new CertificateLoadException(refuse("it covers only attribute certificates (onlyContainsAttributeCerts), not TLS certificates"));
        }

        byte[][] names = [];
        if (idp.DistributionPoint is { } point)
        {
            if (point.Type != DistributionPointName.FullName)
            {
                throw new CertificateLoadException(refuse("its IssuingDistributionPoint names its distribution point relative to the issuer; not supported"));
            }

            names = [.. GeneralNames.GetInstance(point.Name).GetNames().Select(n => n.GetEncoded(Asn1Encodable.Der))];
        }

        return new CrlScope(idp.OnlyContainsUserCerts, idp.OnlyContainsCACerts, names);
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
                byte[] der;
                try
                {
                    der = Convert.FromBase64String(text[fields.Base64Data].ToString());
                }
                catch (FormatException ex)
                {
                    throw new CertificateLoadException($"CRL file '{path}' holds an X509 CRL block that is not valid base64: {ex.Message}", ex);
                }

                result.Add(Parse(der, path));
            }

            text = text[fields.Location.End..];
        }

        if (result.Count == 0)
        {
            throw new CertificateLoadException($"CRL file '{path}' contains no '-----BEGIN X509 CRL-----' block");
        }

        return result;
    }

    /// <summary>True when <paramref name="issuer"/>'s key signed this CRL (BouncyCastle verifies the signature with
    /// the algorithm the CRL names, which <see cref="Parse"/> has checked against the signed part).</summary>
    public bool IsSignedBy(X509Certificate2 issuer)
    {
        try
        {
            _crl.Verify(PublicKeyFactory.CreateKey(issuer.PublicKey.ExportSubjectPublicKeyInfo()));
            return true;
        }
        catch (Exception ex) when (ex is GeneralSecurityException or InvalidKeyException or SignatureException or ArgumentException
            or InvalidOperationException or CryptographicException or IOException)
        {
            return false;
        }
    }

    /// <summary>BouncyCastle's times are UTC; a Local one is converted rather than relabelled.</summary>
    private static DateTimeOffset Utc(DateTime time) =>
        new(time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : DateTime.SpecifyKind(time, DateTimeKind.Utc));

    private static System.Numerics.BigInteger ToBigInteger(Org.BouncyCastle.Math.BigInteger value) =>
        new(value.ToByteArray(), isUnsigned: false, isBigEndian: true);
}
