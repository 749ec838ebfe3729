namespace Tunnel.Certs.Cli;

/// <summary>The <c>certs inspect --json</c> document.</summary>
/// <param name="Source">The file, or host:port, inspected.</param>
/// <param name="Protocol">For a server: the TLS version negotiated.</param>
/// <param name="CipherSuite">For a server: the cipher suite negotiated.</param>
/// <param name="HandshakeError">For a server: why the handshake failed after the chain was received (e.g. the
/// server requires a client certificate), if it did.</param>
/// <param name="Certificates">The certificates, leaf first, in the order found or presented.</param>
/// <param name="Verdict">With --ca: the judgement on the first certificate.</param>
internal sealed record InspectReport(
    string Source,
    string? Protocol,
    string? CipherSuite,
    string? HandshakeError,
    IReadOnlyList<CertificateDescription> Certificates,
    VerdictReport? Verdict);
