using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Tunnel.Certs;

/// <summary>Builds the CRLs of a state folder: one per CA, each listing the revoked certificates that CA signed.
/// With an intermediate, its CRL (leaves) comes first and the root's (revoked intermediates) second, both in one
/// PEM file, which is what OpenSSL's <c>CRLfile</c> and <c>-CRLfile</c> expect for a full chain check.</summary>
internal static class CrlGenerator
{
    public static string Build(PkiIndex index, CertificateAuthority ca, long crlNumber, DateTimeOffset thisUpdate, DateTimeOffset nextUpdate,
        out IReadOnlyList<(X509Certificate2 Issuer, int Revoked)> summary)
    {
        var text = new StringBuilder();
        var counts = new List<(X509Certificate2, int)>();
        foreach (var issuer in ca.Intermediate is null ? [ca.Root] : new[] { ca.Intermediate, ca.Root })
        {
            var issuerSerial = PkiFolder.SerialOf(issuer);
            var builder = new CertificateRevocationListBuilder();
            var revoked = 0;
            foreach (var entry in index.Certificates)
            {
                if (entry.Status != EntryStatus.Revoked || entry.Kind == CertificateKind.Root ||
                    !string.Equals(entry.IssuerSerial, issuerSerial, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                // RFC 5280 §5.3.1: the reason code "unspecified" SHOULD be absent rather than present.
                var reason = entry.Reason is null or X509RevocationReason.Unspecified ? (X509RevocationReason?)null : entry.Reason;
                builder.AddEntry(Convert.FromHexString(entry.Serial), entry.RevokedAt ?? thisUpdate, reason);
                revoked++;
            }

            using var rsa = issuer.GetRSAPublicKey();
            var der = builder.Build(issuer, crlNumber, nextUpdate, HashAlgorithmName.SHA256,
                rsa is null ? null : RSASignaturePadding.Pkcs1, thisUpdate);
            text.Append(PemEncoding.WriteString("X509 CRL", der)).Append('\n');
            counts.Add((issuer, revoked));
        }

        summary = counts;
        return text.ToString();
    }
}
