namespace Tunnel.Tls;

/// <summary>Where a daemon's own certificate and key come from: PEM (chain and key in one file, or split), or
/// PKCS#12 with its password in an environment variable or a file.</summary>
/// <param name="CertificatePath">PEM certificate chain, leaf first; may also hold the key.</param>
/// <param name="KeyPath">PEM private key when it is not in the certificate file.</param>
/// <param name="Pkcs12Path">PKCS#12 (.p12/.pfx) bundle instead of PEM.</param>
/// <param name="PasswordEnvironmentVariable">Name of the variable holding the PKCS#12 or encrypted-key password.</param>
/// <param name="PasswordFile">File holding that password (first line).</param>
internal sealed record IdentityOptions(
    string? CertificatePath,
    string? KeyPath,
    string? Pkcs12Path,
    string? PasswordEnvironmentVariable,
    string? PasswordFile)
{
    public bool IsConfigured => CertificatePath is not null || Pkcs12Path is not null;

    /// <summary>The files whose change should trigger a reload.</summary>
    public IEnumerable<string> Files =>
        new[] { CertificatePath, KeyPath, Pkcs12Path, PasswordFile }.Where(p => p is not null).Select(p => p!);
}
