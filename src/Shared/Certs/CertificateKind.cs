namespace Tunnel.Certs;

/// <summary>What a certificate is for; decides its extensions.</summary>
internal enum CertificateKind
{
    /// <summary>Self-signed root CA.</summary>
    Root,

    /// <summary>Intermediate CA signed by the root (path length 0: it signs only leaves).</summary>
    Intermediate,

    /// <summary>A tunnel-server (EKU serverAuth, DNS/IP SANs).</summary>
    Server,

    /// <summary>A tunnel-client site (EKU clientAuth).</summary>
    Client,
}
