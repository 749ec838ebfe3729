using System.Net;

namespace Tunnel.Certs;

/// <summary>What to put in a certificate.</summary>
/// <param name="Kind">Root, intermediate, server or client.</param>
/// <param name="CommonName">Subject CN.</param>
/// <param name="NotBefore">Start of validity.</param>
/// <param name="NotAfter">End of validity (clamped to the issuer's).</param>
internal sealed record CertificateSpec(CertificateKind Kind, string CommonName, DateTimeOffset NotBefore, DateTimeOffset NotAfter)
{
    public KeyAlgorithm Key { get; init; } = KeyAlgorithm.EcdsaP256;

    public IReadOnlyList<string> DnsNames { get; init; } = [];

    public IReadOnlyList<IPAddress> IpAddresses { get; init; } = [];

    public IReadOnlyList<Uri> Uris { get; init; } = [];

    /// <summary>URLs where the issuing CA publishes its CRL, for a CRLDistributionPoints extension (RFC 5280
    /// §4.2.1.13); none adds no extension.</summary>
    public IReadOnlyList<Uri> CrlDistributionPoints { get; init; } = [];

    /// <summary>Organisation (O) in the subject, if any.</summary>
    public string? Organization { get; init; }
}
