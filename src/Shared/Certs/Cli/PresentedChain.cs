using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Certs.Cli;

/// <summary>What a TLS server showed during a handshake: its chain, as sent, and how far the handshake got.</summary>
internal sealed record PresentedChain(X509Certificate2Collection Certificates, string? Protocol, string? CipherSuite, string? HandshakeError);
