using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;

namespace Tunnel.Certs;

/// <summary>One certificate the CA issued (including the CA certificates themselves).</summary>
internal sealed record IndexEntry
{
    /// <summary>Serial number, upper-case hex as <c>openssl crl -text</c> prints it.</summary>
    public required string Serial { get; init; }

    /// <summary>The name the operator uses: the CN and file stem of a leaf, <c>ca</c> or <c>intermediate</c>.</summary>
    public required string Name { get; init; }

    public required CertificateKind Kind { get; init; }

    public required string Subject { get; init; }

    /// <summary>Serial of the CA certificate that signed this one (its own for the root).</summary>
    public required string IssuerSerial { get; init; }

    public required DateTimeOffset NotBefore { get; init; }

    public required DateTimeOffset NotAfter { get; init; }

    public EntryStatus Status { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }

    public X509RevocationReason? Reason { get; init; }

    /// <summary>Serial of the certificate that replaced this one (renew, or issue --force); this one stays valid
    /// until it expires or is revoked, so deployed peers keep working during a rotation.</summary>
    public string? SupersededBy { get; init; }

    /// <summary>Serial of the certificate this one replaced.</summary>
    public string? Replaces { get; init; }

    /// <summary>Certificate file, relative to the state folder.</summary>
    public required string Certificate { get; init; }

    /// <summary>Private key file, relative to the state folder.</summary>
    public string? Key { get; init; }

    [JsonIgnore]
    public bool IsCurrent => SupersededBy is null;

    [JsonIgnore]
    public bool IsCa => Kind is CertificateKind.Root or CertificateKind.Intermediate;
}
