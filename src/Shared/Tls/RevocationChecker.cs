using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tls;

/// <summary>Checks peer chains against CRLs the operator supplies (stunnel's CRLfile), without any network fetch:
/// online revocation in .NET on Linux can hang handshakes on an unreachable distribution point. As OpenSSL's
/// CRL_CHECK: the leaf's issuer must have a CRL in the file that covers the leaf; intermediates are checked when their
/// issuer has one that covers them.</summary>
/// <remarks>
/// Per issuer and scope (<see cref="CrlScope"/>), the complete CRL with the highest CRL number (else the latest
/// thisUpdate) is used, and on top of it the delta CRL with the highest number whose BaseCRLNumber that complete CRL
/// satisfies (RFC 5280 §5.2.4): the delta's revocations are added, its removeFromCRL entries taken away. A delta
/// never replaces its base. The file is refused as a whole, at start-up or reload (the previous CRLs then stay in
/// force), when a CRL is not signed by a CA of the bundle, is not yet valid (thisUpdate more than
/// <see cref="ClockSkew"/> ahead), or is a delta whose base is missing or too old. A CRL past its nextUpdate is
/// still enforced (its revocations stand; see <see cref="ExpiryWarnings"/> for the warning).
/// </remarks>
internal sealed class RevocationChecker
{
    /// <summary>How far ahead of this machine's clock a CRL's thisUpdate may be (clocks of the CA host and the server
    /// differ a little).</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private readonly Dictionary<string, List<ScopedList>> _byIssuer;

    private RevocationChecker(Dictionary<string, List<ScopedList>> byIssuer, string source)
    {
        _byIssuer = byIssuer;
        Source = source;
    }

    public string Source { get; }

    /// <summary>The CRLs in force: each complete CRL used, and the delta applied on top of it, if any.</summary>
    public IEnumerable<CertificateRevocationList> Lists =>
        _byIssuer.Values.SelectMany(l => l).SelectMany(s => s.Delta is null ? new[] { s.Complete } : [s.Complete, s.Delta]);

    /// <summary>The earliest next-update among the CRLs; after it, the file is stale and should be regenerated.</summary>
    public DateTimeOffset? NextUpdate => Lists.Select(c => c.NextUpdate).Where(d => d is not null).Min();

    public static RevocationChecker Load(string path, TrustBundle trust) => Load(path, trust, DateTimeOffset.UtcNow);

    /// <summary>Loads the CRL file and verifies each CRL's signature against a CA in <paramref name="trust"/>.</summary>
    public static RevocationChecker Load(string path, TrustBundle trust, DateTimeOffset now)
    {
        var authorities = trust.Roots.Concat(trust.Intermediates).ToList();
        var complete = new Dictionary<(string Issuer, string Scope), CertificateRevocationList>();
        var deltas = new List<CertificateRevocationList>();
        foreach (var crl in CertificateRevocationList.LoadFile(path))
        {
            var issuer = authorities.FirstOrDefault(ca => ca.SubjectName.RawData.AsSpan().SequenceEqual(crl.Issuer.RawData))
                ?? throw new CertificateLoadException(
                    $"CRL in '{path}' is issued by '{crl.Issuer.Name}', which is not in the CA bundle '{trust.Source}' (add that CA to the bundle)");
            if (!crl.IsSignedBy(issuer))
            {
                throw new CertificateLoadException($"CRL in '{path}' issued by '{crl.Issuer.Name}' has an invalid signature (regenerate it with `certs crl`)");
            }

            if (crl.ThisUpdate > now + ClockSkew)
            {
                throw new CertificateLoadException(
                    $"the {crl.Description} in '{path}' is not valid yet: its thisUpdate is {crl.ThisUpdate:yyyy-MM-dd HH:mm:ss} UTC, " +
                    $"after this machine's clock ({now:yyyy-MM-dd HH:mm:ss} UTC); check the clocks of this machine and of the CA host");
            }

            if (crl.IsDelta)
            {
                deltas.Add(crl);
                continue;
            }

            var key = (Key(crl.Issuer), crl.Scope.Key);
            if (!complete.TryGetValue(key, out var existing) || IsNewer(crl, existing))
            {
                complete[key] = crl;
            }
        }

        var applied = new Dictionary<(string Issuer, string Scope), CertificateRevocationList>();
        foreach (var delta in deltas)
        {
            var key = (Key(delta.Issuer), delta.Scope.Key);
            if (!complete.TryGetValue(key, out var baseCrl))
            {
                throw new CertificateLoadException(
                    $"the {delta.Description} in '{path}' has no complete CRL of the same issuer and scope in the file; a delta CRL only " +
                    $"adds to its base (put the complete CRL number {delta.BaseNumber} or later in the same file)");
            }

            if (baseCrl.Number is not { } baseNumber)
            {
                throw new CertificateLoadException(
                    $"the {delta.Description} in '{path}' cannot be applied: the complete CRL of '{baseCrl.Issuer.Name}' has no CRL number");
            }

            if (delta.Number <= baseNumber)
            {
                continue; // older than the complete CRL, which already includes what it says
            }

            if (baseNumber < delta.BaseNumber)
            {
                throw new CertificateLoadException(
                    $"the {delta.Description} in '{path}' updates complete CRL number {delta.BaseNumber} or later, but the newest complete CRL " +
                    $"in the file is number {baseNumber}; put the current complete CRL in the file");
            }

            if (!applied.TryGetValue(key, out var current) || delta.Number > current.Number)
            {
                applied[key] = delta;
            }
        }

        var byIssuer = new Dictionary<string, List<ScopedList>>(StringComparer.Ordinal);
        foreach (var ((issuer, scope), crl) in complete)
        {
            var delta = applied.GetValueOrDefault((issuer, scope));
            var revoked = new HashSet<string>(crl.Revoked, StringComparer.Ordinal);
            if (delta is not null)
            {
                revoked.UnionWith(delta.Revoked);
                revoked.ExceptWith(delta.Removed);
            }

            if (!byIssuer.TryGetValue(issuer, out var lists))
            {
                byIssuer[issuer] = lists = [];
            }

            lists.Add(new ScopedList(crl, delta, revoked));
        }

        return new RevocationChecker(byIssuer, path);
    }

    /// <summary>Null when no certificate in the chain is revoked; otherwise the reason to refuse it.</summary>
    public string? Check(X509Chain chain) => Check([.. chain.ChainElements.Select(e => e.Certificate)]);

    /// <summary>The same for a chain given as its certificates, leaf first, root last.</summary>
    public string? Check(IReadOnlyList<X509Certificate2> chain)
    {
        for (var i = 0; i < chain.Count - 1; i++)
        {
            var certificate = chain[i];
            var covering = _byIssuer.TryGetValue(Key(certificate.IssuerName), out var lists)
                ? lists.Where(l => l.Complete.Scope.Covers(certificate)).ToList()
                : [];
            if (covering.Count == 0)
            {
                if (i == 0)
                {
                    return lists is null
                        ? $"no CRL for its issuer '{certificate.Issuer}' in '{Source}' (regenerate the CRL file with `certs crl`)"
                        : $"no CRL in '{Source}' covers it (the CRLs of '{certificate.Issuer}' there cover: " +
                            $"{string.Join("; ", lists.Select(l => l.Complete.Scope.ToString()))})";
                }

                continue;
            }

            var serial = RevokedSerials.Canonical(certificate.SerialNumber);
            if (covering.FirstOrDefault(l => l.Revoked.Contains(serial)) is { } by)
            {
                var which = by.Delta is { } d && d.Revoked.Contains(serial) ? d.Description : by.Complete.Description;
                return i == 0
                    ? $"its certificate (serial {serial}) is revoked by the {which}"
                    : $"the CA certificate '{certificate.Subject}' in its chain is revoked by the {which}";
            }
        }

        return null;
    }

    private static bool IsNewer(CertificateRevocationList candidate, CertificateRevocationList existing) =>
        candidate.Number is { } a && existing.Number is { } b ? a > b : candidate.ThisUpdate > existing.ThisUpdate;

    private static string Key(X500DistinguishedName name) => Convert.ToBase64String(name.RawData);

    /// <summary>One complete CRL in force, the delta applied on top of it, and the serials revoked by the two.</summary>
    private sealed record ScopedList(CertificateRevocationList Complete, CertificateRevocationList? Delta, IReadOnlySet<string> Revoked);
}
