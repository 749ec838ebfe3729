namespace Tunnel.Certs;

/// <summary>What <c>certs list</c> reports: the recorded status, with expiry worked out from the date.</summary>
internal enum CertificateStatus
{
    Valid,
    Revoked,
    Expired,
}
