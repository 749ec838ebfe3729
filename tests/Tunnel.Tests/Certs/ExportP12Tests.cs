using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tests.Certs;

[SupportedOSPlatform("linux")]
public sealed class ExportP12Tests : IDisposable
{
    private const int Timeout = 60_000;
    private readonly CertsSandbox _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task Export_writes_a_0600_pkcs12_with_the_key_and_the_whole_chain()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "client", "site-a");
        _pki.Environment["P12_PASSWORD"] = "correct horse";

        await _pki.OkAsync("export-p12", "site-a", "--password-env", "P12_PASSWORD");

        var path = _pki.PathOf("private/site-a.p12");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var all = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, "correct horse", X509KeyStorageFlags.EphemeralKeySet);
        Assert.Equal(3, all.Count);
        var leaf = Assert.Single(all, c => c.HasPrivateKey);
        Assert.Equal("CN=site-a", leaf.Subject);
        using var root = _pki.Load("ca.pem");
        using var intermediate = _pki.Load("intermediate.pem");
        Assert.Contains(all, c => c.Thumbprint == root.Thumbprint);
        Assert.Contains(all, c => c.Thumbprint == intermediate.Thumbprint);
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() =>
            X509CertificateLoader.LoadPkcs12CollectionFromFile(path, "wrong", X509KeyStorageFlags.EphemeralKeySet));
    }

    [Fact(Timeout = Timeout)]
    public async Task Export_takes_the_password_from_a_file_and_writes_where_asked_but_never_over_a_file_without_force()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "server", "tunnel.local");
        var passwordFile = Path.Combine(_pki.Folder, "password");
        await File.WriteAllTextAsync(passwordFile, "s3cret\nignored\n");
        var output = Path.Combine(_pki.Folder, "out", "server.p12");

        await _pki.OkAsync("export-p12", "tunnel.local", "--password-file", passwordFile, "--out", output);
        var again = await _pki.RunAsync("export-p12", "tunnel.local", "--password-file", passwordFile, "--out", output);
        await _pki.OkAsync("export-p12", "tunnel.local", "--password-file", passwordFile, "--out", output, "--force");

        Assert.Equal(3, again.ExitCode);
        Assert.Contains("--force", again.Error);
        Assert.Equal(2, X509CertificateLoader.LoadPkcs12CollectionFromFile(output, "s3cret", X509KeyStorageFlags.EphemeralKeySet).Count);
    }

    [Fact(Timeout = Timeout)]
    public async Task Export_refuses_to_write_without_a_password()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a");

        var none = await _pki.RunAsync("export-p12", "site-a");
        var unset = await _pki.RunAsync("export-p12", "site-a", "--password-env", "NOT_SET_ANYWHERE");

        Assert.Equal(2, none.ExitCode);
        Assert.Contains("--password-env", none.Error);
        Assert.Equal(3, unset.ExitCode);
        Assert.Contains("NOT_SET_ANYWHERE", unset.Error);
        Assert.False(File.Exists(_pki.PathOf("private/site-a.p12")));
    }
}
