using System.Security.Cryptography.X509Certificates;
using Tunnel.Certs;
using Tunnel.Tests.Support;
using Tunnel.Tls;

namespace Tunnel.Tests.Tls;

/// <summary>Operator mistakes with certificate material stop start-up with a message that says how to fix them.</summary>
public sealed class IdentityLoaderTests : IDisposable
{
    private readonly TestPki _pki = new();

    [Fact]
    public void Loads_a_split_pem_certificate_and_key()
    {
        var (cert, key) = _pki.IssueServer();
        var identity = IdentityLoader.Load(new IdentityOptions(cert, key, null, null, null), TimeProvider.System);
        Assert.True(identity.Certificate.HasPrivateKey);
        Assert.Equal("CN=tunnel.test", CertificateInfo.ShortName(identity.Certificate));
    }

    [Fact]
    public void Loads_a_combined_pem_with_chain_and_key()
    {
        var (cert, key) = _pki.IssueServer();
        var combined = Path.Combine(_pki.Folder, "combined.pem");
        PemFiles.Write(combined, File.ReadAllText(cert) + File.ReadAllText(_pki.CaPath) + File.ReadAllText(key), UnixFileMode.UserRead | UnixFileMode.UserWrite, overwrite: true);

        var identity = IdentityLoader.Load(new IdentityOptions(combined, null, null, null, null), TimeProvider.System);

        Assert.True(identity.Certificate.HasPrivateKey);
        Assert.Single(identity.Intermediates);
    }

    [Fact]
    public void Refuses_a_key_readable_by_others_and_says_chmod_600()
    {
        var (cert, key) = _pki.IssueServer();
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var error = Assert.Throws<CertificateLoadException>(() => IdentityLoader.Load(new IdentityOptions(cert, key, null, null, null), TimeProvider.System));

        Assert.Contains("mode 0644", error.Message);
        Assert.Contains($"chmod 600 '{key}'", error.Message);
        Assert.Contains("defaultMode: 0440", error.Message);
        Assert.Contains("fsGroup", error.Message);
    }

    [Fact]
    public void Takes_a_root_owned_key_its_group_can_read_as_a_kubernetes_secret_volume_with_fsGroup_has_it()
    {
        // The kubelet writes Secret files as root; with fsGroup and defaultMode 0440 they are root:fsGroup 0440.
        var (cert, key) = _pki.IssueServer();
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.GroupRead);
        Assert.Equal(0, KeyFilePermissions.OwnerOf(key)); // the tests run as root (README)

        var identity = IdentityLoader.Load(new IdentityOptions(cert, key, null, null, null), TimeProvider.System);

        Assert.True(identity.Certificate.HasPrivateKey);
    }

    [Theory]
    [InlineData(0, "0660")] // root-owned, but the group may write it
    [InlineData(12345, "0640")] // group-readable and not owned by root: the owner could have shared it
    public void Refuses_a_group_readable_key_unless_root_owns_it_and_the_group_can_only_read(int owner, string mode)
    {
        var (cert, key) = _pki.IssueServer();
        File.SetUnixFileMode(key, (UnixFileMode)Convert.ToInt32(mode, 8));
        Assert.Equal(0, Chown(key, owner, 0));

        var error = Assert.Throws<CertificateLoadException>(() => IdentityLoader.Load(new IdentityOptions(cert, key, null, null, null), TimeProvider.System));

        Assert.Contains($"mode {mode}", error.Message);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int owner, int group);

    [Fact]
    public void Refuses_an_expired_certificate()
    {
        var (cert, key) = _pki.IssueServer(notBefore: DateTimeOffset.UtcNow.AddDays(-10), notAfter: DateTimeOffset.UtcNow.AddDays(-1));

        var error = Assert.Throws<CertificateLoadException>(() => IdentityLoader.Load(new IdentityOptions(cert, key, null, null, null), TimeProvider.System));

        Assert.Contains("expired on", error.Message);
        Assert.Contains("renew", error.Message);
    }

    [Fact]
    public void Refuses_a_key_that_belongs_to_another_certificate()
    {
        var (cert, _) = _pki.IssueServer();
        var (_, otherKey) = _pki.IssueClient();

        var error = Assert.Throws<CertificateLoadException>(() => IdentityLoader.Load(new IdentityOptions(cert, otherKey, null, null, null), TimeProvider.System));

        Assert.Contains(otherKey, error.Message);
    }

    [Fact]
    public void Loads_pkcs12_with_the_password_from_an_environment_variable()
    {
        var (cert, key) = _pki.IssueClient("p12-site");
        using var certificate = X509Certificate2.CreateFromPemFile(cert, key);
        var p12 = Path.Combine(_pki.Folder, "site.p12");
        File.WriteAllBytes(p12, certificate.Export(X509ContentType.Pkcs12, "s3cret"));
        File.SetUnixFileMode(p12, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var variable = "TUNNEL_TEST_P12_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "s3cret");
        try
        {
            var identity = IdentityLoader.Load(new IdentityOptions(null, null, p12, variable, null), TimeProvider.System);
            Assert.Equal("CN=p12-site", CertificateInfo.ShortName(identity.Certificate));

            Environment.SetEnvironmentVariable(variable, "wrong");
            var error = Assert.Throws<CertificateLoadException>(() => IdentityLoader.Load(new IdentityOptions(null, null, p12, variable, null), TimeProvider.System));
            Assert.Contains("wrong password", error.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void A_ca_bundle_without_a_root_is_refused()
    {
        var (cert, _) = _pki.IssueClient();

        var error = Assert.Throws<CertificateLoadException>(() => TrustBundle.Load(cert));

        Assert.Contains("no root", error.Message);
    }

    public void Dispose() => _pki.Dispose();
}
