namespace Tunnel.Certs;

/// <summary>Key types the CA issues. ECDSA P-256 is the default: small, fast to sign and verify (about 20k
/// handshakes/s per core here), and accepted by every TLS 1.3 peer.</summary>
internal enum KeyAlgorithm
{
    EcdsaP256,
    Rsa3072,
}
