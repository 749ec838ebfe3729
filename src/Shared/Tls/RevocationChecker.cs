using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tls;

/// <summary>Checks peer chains against CRLs the operator supplies (stunnel's CRLfile), without any network fetch:
/// online revocation in .NET on Linux can hang handshakes on an unreachable distribution point. As OpenSSL's
/// CRL_CHECK: the leaf's issuer must have a CRL in the file; intermediates are checked when their issuer has one.</summary>
internal sealed class RevocationChecker
{
    private readonly Dictionary<string, CertificateRevocationList> _byIssuer;

    private RevocationChecker(Dictionary<string, CertificateRevocationList> byIssuer, string source)
    {
        _byIssuer = byIssuer;
        Source = source;
    }

    public string Source { get; }

    public IEnumerable<CertificateRevocationList> Lists => _byIssuer.Values;

    /// <summary>The earliest next-update among the CRLs; after it, the file is stale and should be regenerated.</summary>
    public DateTimeOffset? NextUpdate => _byIssuer.Values.Select(c => c.NextUpdate).Where(d => d is not null).Min();

    /// <summary>Loads the CRL file and verifies each CRL's signature against a CA in <paramref name="trust"/>.</summary>
    public static RevocationChecker Load(string path, TrustBundle trust)
    {
        var byIssuer = new Dictionary<string, CertificateRevocationList>(StringComparer.Ordinal);
        var authorities = trust.Roots.Concat(trust.Intermediates).ToList();
        foreach (var crl in CertificateRevocationList.LoadFile(path))
        {
            var issuer = authorities.FirstOrDefault(ca => ca.SubjectName.RawData.AsSpan().SequenceEqual(crl.Issuer.RawData))
                ?? throw new CertificateLoadException(
                    $"CRL in '{path}' is issued by '{crl.Issuer.Name}', which is not in the CA bundle '{trust.Source}' (add that CA to the bundle)");
            if (!crl.IsSignedBy(issuer))
            {
                throw new CertificateLoadException($"CRL in '{path}' issued by '{crl.Issuer.Name}' has an invalid signature (regenerate it with `certs crl`)");
            }

            var key = Key(crl.Issuer);
            if (!byIssuer.TryGetValue(key, out var existing) || crl.ThisUpdate > existing.ThisUpdate)
            {
                byIssuer[key] = crl;
            }
        }

        return new RevocationChecker(byIssuer, path);
    }

    /// <summary>Null when no certificate in the chain is revoked; otherwise the reason to refuse it.</summary>
    public string? Check(X509Chain chain)
    {
        var elements = chain.ChainElements;
        for (var i = 0; i < elements.Count - 1; i++)
        {
            var certificate = elements[i].Certificate;
            if (!_byIssuer.TryGetValue(Key(certificate.IssuerName), out var crl))
            {
                if (i == 0)
                {
                    return $"no CRL for its issuer '{certificate.Issuer}' in '{Source}' (regenerate the CRL file with `certs crl`)";
                }

                continue;
            }

            var serial = RevokedSerials.Canonical(certificate.SerialNumber);
            if (crl.Revoked.Contains(serial))
            {
                return i == 0
                    ? $"its certificate (serial {serial}) is revoked by the CRL of '{certificate.Issuer}'"
                    : $"the CA certificate '{certificate.Subject}' in its chain is revoked";
            }
        }

        return null;
    }

    private static string Key(X500DistinguishedName name) => Convert.ToBase64String(name.RawData);
}
