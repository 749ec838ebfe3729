using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tls;

/// <summary>A loaded certificate with its private key and the intermediates to send with it.</summary>
internal sealed record TlsIdentity(
    X509Certificate2 Certificate,
    X509Certificate2Collection Intermediates,
    SslStreamCertificateContext Context,
    string Source)
{
    public DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime());
}
