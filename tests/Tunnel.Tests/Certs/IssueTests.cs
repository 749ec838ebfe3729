using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Tunnel.Tls;

namespace Tunnel.Tests.Certs;

[SupportedOSPlatform("linux")]
public sealed class IssueTests : IDisposable
{
    private const int Timeout = 60_000;
    private readonly CertsSandbox _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task Issue_server_gives_a_server_auth_leaf_with_the_requested_sans_linked_to_the_intermediate()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        var result = await _pki.OkAsync("issue", "server", "tunnel.local", "--dns", "tunnel.local,localhost", "--ip", "127.0.0.1,::1");

        var chain = _pki.LoadAll("issued/tunnel.local.pem");
        Assert.Equal(2, chain.Count);
        var leaf = chain[0];
        using var intermediate = _pki.Load("intermediate.pem");
        Assert.Equal(intermediate.Thumbprint, chain[1].Thumbprint);
        Assert.Equal("CN=tunnel.local", leaf.Subject);
        Assert.Equal(intermediate.Subject, leaf.Issuer);

        var basic = Assert.Single(leaf.Extensions.OfType<X509BasicConstraintsExtension>());
        Assert.False(basic.CertificateAuthority);
        var usage = Assert.Single(leaf.Extensions.OfType<X509KeyUsageExtension>());
        Assert.Equal(X509KeyUsageFlags.DigitalSignature, usage.KeyUsages);
        Assert.True(usage.Critical);
        var eku = Assert.Single(leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>());
        Assert.Equal([KeyUsages.ServerAuthValue], eku.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value));
        var aki = Assert.Single(leaf.Extensions.OfType<X509AuthorityKeyIdentifierExtension>());
        Assert.Equal(Assert.Single(intermediate.Extensions.OfType<X509SubjectKeyIdentifierExtension>()).SubjectKeyIdentifier,
            Convert.ToHexString(aki.KeyIdentifier!.Value.Span));
        Assert.Single(leaf.Extensions.OfType<X509SubjectKeyIdentifierExtension>());
        Assert.Equal(["DNS:tunnel.local", "DNS:localhost", "IP:127.0.0.1", "IP:::1"], CertificateInfo.SubjectAlternativeNames(leaf));
        Assert.True(leaf.MatchesHostname("tunnel.local"));
        Assert.True(leaf.MatchesHostname("127.0.0.1"));
        Assert.InRange((leaf.NotAfter.ToUniversalTime() - _pki.Time.Now.UtcDateTime).TotalDays, 396, 398);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_pki.PathOf("private/tunnel.local.key")));
        using var withKey = X509Certificate2.CreateFromPemFile(_pki.PathOf("issued/tunnel.local.pem"), _pki.PathOf("private/tunnel.local.key"));
        Assert.True(withKey.HasPrivateKey);
        Assert.Contains(CertificateInfo.SpkiPin(leaf), result.Out);
    }

    [Fact(Timeout = Timeout)]
    public async Task Issue_client_gives_a_client_auth_leaf_with_a_spiffe_uri_signed_by_the_root_when_there_is_no_intermediate()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a", "--uri", "spiffe://example.org/site/a", "--days", "30");

        using var leaf = Assert.Single(_pki.LoadAll("issued/site-a.pem"));
        using var root = _pki.Load("ca.pem");
        Assert.Equal(root.Subject, leaf.Issuer);
        var eku = Assert.Single(leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>());
        Assert.Equal([KeyUsages.ClientAuthValue], eku.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value));
        Assert.Equal(["URI:spiffe://example.org/site/a"], CertificateInfo.SubjectAlternativeNames(leaf));
        Assert.InRange((leaf.NotAfter.ToUniversalTime() - _pki.Time.Now.UtcDateTime).TotalDays, 29.9, 30.1);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_server_without_names_gets_its_name_as_dns_san_and_a_client_defaults_to_365_days()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "server", "relay.example.com");
        await _pki.OkAsync("issue", "client", "site-b");

        using var server = _pki.Load("issued/relay.example.com.pem");
        Assert.Equal(["DNS:relay.example.com"], CertificateInfo.SubjectAlternativeNames(server));
        using var client = _pki.Load("issued/site-b.pem");
        Assert.InRange((client.NotAfter.ToUniversalTime() - _pki.Time.Now.UtcDateTime).TotalDays, 364, 366);
    }

    [Fact(Timeout = Timeout)]
    public async Task Issuing_without_a_ca_says_to_run_init_ca()
    {
        var result = await _pki.RunAsync("issue", "client", "site-a");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("no CA in", result.Error);
        Assert.Contains("certs init-ca", result.Error);
    }

    [Fact(Timeout = Timeout)]
    public async Task Issuing_an_existing_name_is_refused_with_renew_and_force_as_the_ways_out()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a");
        var key = File.ReadAllBytes(_pki.PathOf("private/site-a.key"));

        var again = await _pki.RunAsync("issue", "client", "site-a");

        Assert.Equal(3, again.ExitCode);
        Assert.Contains("client 'site-a' already exists", again.Error);
        Assert.Contains("certs renew site-a", again.Error);
        Assert.Contains("--force", again.Error);
        Assert.Equal(key, File.ReadAllBytes(_pki.PathOf("private/site-a.key")));
    }

    [Fact(Timeout = Timeout)]
    public async Task Issue_with_force_replaces_the_files_and_keeps_the_old_certificate_on_record()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "server", "relay", "--dns", "old.example");
        using var old = _pki.Load("issued/relay.pem");

        await _pki.OkAsync("issue", "server", "relay", "--dns", "new.example", "--force");

        using var replacement = _pki.Load("issued/relay.pem");
        Assert.Equal(["DNS:new.example"], CertificateInfo.SubjectAlternativeNames(replacement));
        using var archived = _pki.Load($"renewed/relay-{old.SerialNumber}.pem");
        Assert.Equal(old.Thumbprint, archived.Thumbprint);
        var list = JsonDocument.Parse((await _pki.OkAsync("list", "--json")).Out);
        var oldRow = list.RootElement.GetProperty("certificates").EnumerateArray().Single(r => r.GetProperty("serial").GetString() == old.SerialNumber);
        Assert.Equal(replacement.SerialNumber, oldRow.GetProperty("supersededBy").GetString());
    }

    [Fact(Timeout = Timeout)]
    public async Task Stray_files_for_an_unknown_name_are_not_overwritten_without_force()
    {
        await _pki.OkAsync("init-ca");
        Directory.CreateDirectory(_pki.PathOf("issued"));
        await File.WriteAllTextAsync(_pki.PathOf("issued/site-a.pem"), "keep me");

        var result = await _pki.RunAsync("issue", "client", "site-a");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("--force", result.Error);
        Assert.Equal("keep me", await File.ReadAllTextAsync(_pki.PathOf("issued/site-a.pem")));
        await _pki.OkAsync("issue", "client", "site-a", "--force");
    }

    [Theory(Timeout = Timeout)]
    [InlineData("issue", "server", "../evil")]
    [InlineData("issue", "robot", "x")]
    [InlineData("issue", "server", "x", "--ip", "300.1.1.1")]
    [InlineData("issue", "server", "x", "--ip", "10.1.2")]
    [InlineData("issue", "server", "x", "--dns", "bad name")]
    [InlineData("issue", "client", "x", "--uri", "not-a-uri")]
    [InlineData("issue", "client", "x", "--days", "0")]
    [InlineData("issue", "client", "ca")]
    [InlineData("issue", "client")]
    [InlineData("issue", "client", "x", "--bogus")]
    public async Task Bad_arguments_are_usage_errors_that_name_the_problem(params string[] args)
    {
        await _pki.OkAsync("init-ca");

        var result = await _pki.RunAsync(args);

        Assert.Equal(2, result.ExitCode);
        Assert.NotEmpty(result.Error);
        Assert.Empty(result.Out);
        Assert.False(Directory.Exists(_pki.PathOf("issued")), result.ToString());
    }

    [Fact(Timeout = Timeout)]
    public async Task A_leaf_never_outlives_its_ca_and_the_operator_is_told()
    {
        await _pki.OkAsync("init-ca", "--days", "10");

        var result = await _pki.OkAsync("issue", "client", "site-a", "--days", "365");

        using var root = _pki.Load("ca.pem");
        using var leaf = _pki.Load("issued/site-a.pem");
        Assert.Equal(root.NotAfter, leaf.NotAfter);
        Assert.Contains("shortened", result.Error);
    }

    [Fact(Timeout = Timeout)]
    public async Task The_state_folder_comes_from_dir_before_the_environment()
    {
        var elsewhere = Path.Combine(_pki.Folder, "elsewhere");
        await _pki.OkAsync("init-ca", "--dir", elsewhere);

        Assert.True(File.Exists(Path.Combine(elsewhere, "ca.pem")));
        Assert.False(Directory.Exists(_pki.Dir));
        Assert.Equal(3, (await _pki.RunAsync("list")).ExitCode);
        Assert.Contains("ca", (await _pki.OkAsync("list", "--dir", elsewhere)).Out);
    }
}
