using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Tls;

namespace Tunnel.Tests.Certs;

[SupportedOSPlatform("linux")]
public sealed class InitCaTests : IDisposable
{
    private const int Timeout = 60_000;
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Mode0700 = Mode0600 | UnixFileMode.UserExecute;
    private readonly CertsSandbox _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task Init_ca_creates_a_self_signed_root_with_ca_extensions_and_a_private_key_only_the_owner_can_read()
    {
        var result = await _pki.OkAsync("init-ca", "--cn", "Acme Root", "--org", "Acme");

        using var root = _pki.Load("ca.pem");
        // .NET shows the most specific component first; the encoding is O then CN, as OpenSSL prints it.
        Assert.Equal("CN=Acme Root, O=Acme", root.Subject);
        Assert.True(IdentityLoader.IsSelfSigned(root));
        var basic = Assert.Single(root.Extensions.OfType<X509BasicConstraintsExtension>());
        Assert.True(basic.CertificateAuthority);
        Assert.True(basic.Critical);
        var usage = Assert.Single(root.Extensions.OfType<X509KeyUsageExtension>());
        Assert.True(usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign));
        Assert.True(usage.KeyUsages.HasFlag(X509KeyUsageFlags.CrlSign));
        Assert.Single(root.Extensions.OfType<X509SubjectKeyIdentifierExtension>());
        Assert.Equal("ECDSA P-256", Tunnel.Certs.KeyAlgorithms.Describe(root));
        Assert.InRange((root.NotAfter.ToUniversalTime() - _pki.Time.Now.UtcDateTime).TotalDays, 3649, 3651);

        Assert.Equal(Mode0600, File.GetUnixFileMode(_pki.PathOf("private/ca.key")));
        Assert.Equal(Mode0700, File.GetUnixFileMode(_pki.PathOf("private")));
        Assert.Equal(Mode0600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(_pki.PathOf("ca.pem")));
        using var bundleRoot = Assert.Single(_pki.LoadAll("ca-bundle.pem"));
        Assert.Equal(root.Thumbprint, bundleRoot.Thumbprint);
        Assert.Contains("ca-bundle.pem", result.Out);
        Assert.True(File.Exists(_pki.PathOf("index.json")));
    }

    [Fact(Timeout = Timeout)]
    public async Task Init_ca_with_intermediate_creates_a_path_length_zero_ca_linked_to_the_root_and_a_two_certificate_bundle()
    {
        await _pki.OkAsync("init-ca", "--intermediate");

        using var root = _pki.Load("ca.pem");
        using var intermediate = _pki.Load("intermediate.pem");
        Assert.Equal(root.Subject, intermediate.Issuer);
        var basic = Assert.Single(intermediate.Extensions.OfType<X509BasicConstraintsExtension>());
        Assert.True(basic.CertificateAuthority);
        Assert.True(basic.HasPathLengthConstraint);
        Assert.Equal(0, basic.PathLengthConstraint);
        var aki = Assert.Single(intermediate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>());
        var rootSki = Assert.Single(root.Extensions.OfType<X509SubjectKeyIdentifierExtension>());
        Assert.Equal(rootSki.SubjectKeyIdentifier, Convert.ToHexString(aki.KeyIdentifier!.Value.Span));
        Assert.InRange((intermediate.NotAfter.ToUniversalTime() - _pki.Time.Now.UtcDateTime).TotalDays, 1825, 1827);
        Assert.Equal(Mode0600, File.GetUnixFileMode(_pki.PathOf("private/intermediate.key")));

        var bundle = _pki.LoadAll("ca-bundle.pem");
        Assert.Equal([root.Thumbprint, intermediate.Thumbprint], bundle.Select(c => c.Thumbprint));

        // The daemons' own loader sorts the bundle the same way: the root is the anchor, the intermediate helps.
        var trust = TrustBundle.Load(_pki.PathOf("ca-bundle.pem"));
        Assert.Equal(root.Thumbprint, Assert.Single(trust.Roots).Thumbprint);
        Assert.Equal(intermediate.Thumbprint, Assert.Single(trust.Intermediates).Thumbprint);
    }

    [Fact(Timeout = Timeout)]
    public async Task Init_ca_refuses_to_replace_an_existing_ca_without_force_and_changes_nothing()
    {
        await _pki.OkAsync("init-ca");
        var before = File.ReadAllBytes(_pki.PathOf("private/ca.key"));

        var again = await _pki.RunAsync("init-ca");

        Assert.Equal(3, again.ExitCode);
        Assert.Contains("already exists", again.Error);
        Assert.Contains("--force", again.Error);
        Assert.Equal(before, File.ReadAllBytes(_pki.PathOf("private/ca.key")));
    }

    [Fact(Timeout = Timeout)]
    public async Task Init_ca_with_force_replaces_the_ca_and_keeps_the_key_private()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        using var oldRoot = _pki.Load("ca.pem");
        File.SetUnixFileMode(_pki.PathOf("private/ca.key"), Mode0600 | UnixFileMode.OtherRead);

        await _pki.OkAsync("init-ca", "--force");

        using var newRoot = _pki.Load("ca.pem");
        Assert.NotEqual(oldRoot.Thumbprint, newRoot.Thumbprint);
        Assert.Equal(Mode0600, File.GetUnixFileMode(_pki.PathOf("private/ca.key")));
        Assert.False(File.Exists(_pki.PathOf("intermediate.pem")), "the old intermediate would otherwise be taken for the new CA's");
        Assert.Single(_pki.LoadAll("ca-bundle.pem"));
    }

    [Fact(Timeout = Timeout)]
    public async Task Init_ca_refuses_a_state_folder_whose_private_directory_others_can_read()
    {
        await _pki.OkAsync("init-ca");
        File.SetUnixFileMode(_pki.PathOf("private"), Mode0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);

        var issue = await _pki.RunAsync("issue", "client", "site-a");

        Assert.Equal(3, issue.ExitCode);
        Assert.Contains("chmod 700", issue.Error);
        Assert.False(File.Exists(_pki.PathOf("private/site-a.key")));
    }

    [Fact(Timeout = Timeout)]
    public async Task An_rsa_ca_issues_ecdsa_leaves_and_an_ecdsa_ca_issues_rsa_leaves()
    {
        await _pki.OkAsync("init-ca", "--key", "rsa3072", "--intermediate");
        await _pki.OkAsync("issue", "server", "ec.example", "--key", "ecdsa-p256");

        using var leaf = _pki.Load("issued/ec.example.pem");
        using var intermediate = _pki.Load("intermediate.pem");
        Assert.Equal("RSA 3072", Tunnel.Certs.KeyAlgorithms.Describe(intermediate));
        Assert.Equal("ECDSA P-256", Tunnel.Certs.KeyAlgorithms.Describe(leaf));
        Assert.Equal("sha256RSA", leaf.SignatureAlgorithm.FriendlyName);
        await _pki.OkAsync("crl");

        using var other = new CertsSandbox();
        await other.OkAsync("init-ca");
        await other.OkAsync("issue", "client", "rsa-site", "--key", "rsa3072");
        using var rsaLeaf = other.Load("issued/rsa-site.pem");
        Assert.Equal("RSA 3072", Tunnel.Certs.KeyAlgorithms.Describe(rsaLeaf));
        var usage = Assert.Single(rsaLeaf.Extensions.OfType<X509KeyUsageExtension>());
        Assert.True(usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyEncipherment));
    }

    [Fact(Timeout = Timeout)]
    public async Task Init_ca_rejects_an_unknown_key_type_as_a_usage_error()
    {
        var result = await _pki.RunAsync("init-ca", "--key", "dsa");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("ecdsa-p256 or rsa3072", result.Error);
        Assert.False(Directory.Exists(_pki.Dir));
    }
}
