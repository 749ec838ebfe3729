using System.Runtime.Versioning;
using System.Text.Json;
using Tunnel.Tls;

namespace Tunnel.Tests.Certs;

[SupportedOSPlatform("linux")]
public sealed class RenewTests : IDisposable
{
    private const int Timeout = 60_000;
    private readonly CertsSandbox _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task Renew_keeps_subject_sans_and_kind_with_a_new_key_and_leaves_the_old_certificate_valid()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "server", "tunnel.local", "--dns", "tunnel.local,localhost", "--ip", "127.0.0.1", "--key", "rsa3072");
        using var old = _pki.Load("issued/tunnel.local.pem");

        var result = await _pki.OkAsync("renew", "tunnel.local", "--days", "90");

        using var renewed = _pki.Load("issued/tunnel.local.pem");
        Assert.Equal(old.Subject, renewed.Subject);
        Assert.Equal(CertificateInfo.SubjectAlternativeNames(old), CertificateInfo.SubjectAlternativeNames(renewed));
        Assert.NotEqual(CertificateInfo.SpkiPin(old), CertificateInfo.SpkiPin(renewed));
        Assert.NotEqual(old.SerialNumber, renewed.SerialNumber);
        Assert.Equal("RSA 3072", Tunnel.Certs.KeyAlgorithms.Describe(renewed));
        Assert.InRange((renewed.NotAfter.ToUniversalTime() - _pki.Time.Now.UtcDateTime).TotalDays, 89, 91);
        Assert.Equal(2, _pki.LoadAll("issued/tunnel.local.pem").Count);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_pki.PathOf("private/tunnel.local.key")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_pki.PathOf($"private/renewed/tunnel.local-{old.SerialNumber}.key")));
        Assert.Contains("stays valid", result.Out);

        var rows = Rows(await _pki.OkAsync("list", "--json"));
        Assert.Equal(("valid", renewed.SerialNumber), rows[old.SerialNumber]);
        Assert.Equal(("valid", (string?)null), rows[renewed.SerialNumber]);
    }

    [Fact(Timeout = Timeout)]
    public async Task Renew_with_revoke_old_revokes_the_old_certificate_as_superseded()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a", "--uri", "spiffe://example.org/site/a");
        using var old = _pki.Load("issued/site-a.pem");

        var result = await _pki.OkAsync("renew", "site-a", "--revoke-old");

        using var renewed = _pki.Load("issued/site-a.pem");
        Assert.Equal(["URI:spiffe://example.org/site/a"], CertificateInfo.SubjectAlternativeNames(renewed));
        Assert.Contains("certs crl", result.Out);
        using var index = JsonDocument.Parse(await File.ReadAllTextAsync(_pki.PathOf("index.json")));
        var entry = index.RootElement.GetProperty("certificates").EnumerateArray().Single(e => e.GetProperty("serial").GetString() == old.SerialNumber);
        Assert.Equal("revoked", entry.GetProperty("status").GetString());
        Assert.Equal("superseded", entry.GetProperty("reason").GetString());
        Assert.Equal(renewed.SerialNumber, entry.GetProperty("supersededBy").GetString());
    }

    [Fact(Timeout = Timeout)]
    public async Task Renew_refuses_unknown_revoked_and_ca_names()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a");
        await _pki.OkAsync("revoke", "site-a");

        var unknown = await _pki.RunAsync("renew", "nobody");
        var revoked = await _pki.RunAsync("renew", "site-a");
        var ca = await _pki.RunAsync("renew", "ca");

        Assert.Equal(3, unknown.ExitCode);
        Assert.Contains("certs issue", unknown.Error);
        Assert.Equal(3, revoked.ExitCode);
        Assert.Contains("revoked", revoked.Error);
        Assert.Equal(2, ca.ExitCode);
    }

    private static Dictionary<string, (string Status, string? SupersededBy)> Rows(CliResult result)
    {
        using var document = JsonDocument.Parse(result.Out);
        return document.RootElement.GetProperty("certificates").EnumerateArray().ToDictionary(
            e => e.GetProperty("serial").GetString()!,
            e => (e.GetProperty("status").GetString()!, e.GetProperty("supersededBy").GetString()));
    }
}
