using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Certs.Cli;

/// <summary>One line of <c>certs list</c>, and its <c>--json</c> form.</summary>
internal sealed record ListRow(
    CertificateKind Kind,
    string Name,
    string Serial,
    CertificateStatus Status,
    string Subject,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    DateTimeOffset? RevokedAt,
    X509RevocationReason? Reason,
    string? SupersededBy,
    string Certificate,
    string? Key);
