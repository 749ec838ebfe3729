using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tls;

/// <summary>A peer's chain as a full handshake verified it: the peer's certificate first, then its issuers up to the
/// trusted root. Copies, owned here: SslStream disposes its chain once the handshake is judged.</summary>
internal sealed record VerifiedChain(IReadOnlyList<X509Certificate2> Certificates)
{
    public X509Certificate2 Leaf => Certificates[0];

    /// <summary>The CA certificates between the leaf and the root.</summary>
    public IReadOnlyList<X509Certificate2> Intermediates => Certificates.Count > 2 ? [.. Certificates.Skip(1).SkipLast(1)] : [];

    public X509Certificate2 Root => Certificates[^1];

    /// <summary>Copies the chain SslStream built and verified; the root is taken from <paramref name="trust"/> (no
    /// copy) when it is one of its roots.</summary>
    public static VerifiedChain From(X509Chain chain, TrustBundle trust)
    {
        var elements = chain.ChainElements;
        var certificates = new X509Certificate2[elements.Count];
        for (var i = 0; i < certificates.Length; i++)
        {
            var certificate = elements[i].Certificate;
            certificates[i] = (i == certificates.Length - 1 ? trust.FindRoot(certificate) : null) ?? X509CertificateLoader.LoadCertificate(certificate.RawData);
        }

        return new VerifiedChain(certificates);
    }

    /// <summary>Whether SslStream's verdict on a chain was "trusted" (so that it may be kept as verified).</summary>
    public static bool IsTrusted(X509Chain? chain, SslPolicyErrors errors) =>
        chain is { ChainElements.Count: > 0 } && (errors & (SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNotAvailable)) == 0;
}
