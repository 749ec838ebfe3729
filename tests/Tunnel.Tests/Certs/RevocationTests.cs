using System.Numerics;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Tunnel.Tests.Certs;

public sealed class RevocationTests : IDisposable
{
    private const int Timeout = 60_000;
    private readonly CertsSandbox _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task Revoke_records_the_reason_in_the_index_and_says_the_crl_is_not_written_yet()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a");

        var result = await _pki.OkAsync("revoke", "site-a", "--reason", "keyCompromise");

        Assert.Contains("certs crl", result.Out);
        Assert.Contains("not updated", result.Out);
        Assert.False(File.Exists(_pki.PathOf("crl.pem")));
        using var index = JsonDocument.Parse(await File.ReadAllTextAsync(_pki.PathOf("index.json")));
        var entry = index.RootElement.GetProperty("certificates").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "site-a");
        Assert.Equal("revoked", entry.GetProperty("status").GetString());
        Assert.Equal("keyCompromise", entry.GetProperty("reason").GetString());
        Assert.True(entry.TryGetProperty("revokedAt", out _));
    }

    [Fact(Timeout = Timeout)]
    public async Task Crl_lists_revoked_serials_signed_by_the_issuing_ca_and_its_number_grows_on_every_run()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a");
        await _pki.OkAsync("issue", "client", "site-b");
        using var siteA = _pki.Load("issued/site-a.pem");
        await _pki.OkAsync("revoke", siteA.SerialNumber.ToLowerInvariant()[..10], "--reason", "cessationOfOperation");

        await _pki.OkAsync("crl", "--days", "3");
        var first = Crls();
        await _pki.OkAsync("crl");
        var second = Crls();

        var crl = Assert.Single(first);
        Assert.Equal(BigInteger.One, crl.Number);
        Assert.Equal(2, Assert.Single(second).Number);
        Assert.Contains("-----BEGIN X509 CRL-----", await File.ReadAllTextAsync(_pki.PathOf("crl.pem")));

        // A builder reloaded from the CRL holds its entries: removing one reports whether it was there.
        Assert.True(crl.Builder.RemoveEntry(siteA.SerialNumberBytes.ToArray()));
        using var siteB = _pki.Load("issued/site-b.pem");
        Assert.False(crl.Builder.RemoveEntry(siteB.SerialNumberBytes.ToArray()));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, GetMode("crl.pem"));
    }

    [Fact(Timeout = Timeout)]
    public async Task With_an_intermediate_crl_pem_holds_the_intermediate_crl_then_the_root_crl()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "client", "site-a");
        await _pki.OkAsync("revoke", "site-a");

        var result = await _pki.OkAsync("crl");

        var crls = Crls();
        Assert.Equal(2, crls.Count);
        Assert.Contains("Tunnel Intermediate CA': 1 revoked", result.Out);
        Assert.Contains("Tunnel Root CA': 0 revoked", result.Out);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_revoked_intermediate_goes_on_the_root_crl_and_stops_the_folder_from_issuing()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("revoke", "intermediate", "--reason", "caCompromise");

        var crl = await _pki.OkAsync("crl");
        var issue = await _pki.RunAsync("issue", "client", "site-a");

        Assert.Contains("Tunnel Root CA': 1 revoked", crl.Out);
        Assert.Equal(3, issue.ExitCode);
        Assert.Contains("revoked", issue.Error);
    }

    [Fact(Timeout = Timeout)]
    public async Task The_root_cannot_be_revoked_and_unknown_targets_or_reasons_are_refused()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a");

        var root = await _pki.RunAsync("revoke", "ca");
        var unknown = await _pki.RunAsync("revoke", "nobody");
        var reason = await _pki.RunAsync("revoke", "site-a", "--reason", "boredom");

        Assert.Equal(3, root.ExitCode);
        Assert.Contains("init-ca --force", root.Error);
        Assert.Equal(3, unknown.ExitCode);
        Assert.Contains("certs list", unknown.Error);
        Assert.Equal(2, reason.ExitCode);
        Assert.Contains("keyCompromise", reason.Error);
    }

    [Fact(Timeout = Timeout)]
    public async Task Revoking_twice_changes_nothing()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a");
        await _pki.OkAsync("revoke", "site-a", "--reason", "superseded");
        var index = await File.ReadAllTextAsync(_pki.PathOf("index.json"));

        var again = await _pki.OkAsync("revoke", "site-a", "--reason", "keyCompromise");

        Assert.Contains("already revoked", again.Out);
        Assert.Equal(index, await File.ReadAllTextAsync(_pki.PathOf("index.json")));
    }

    [Fact(Timeout = Timeout)]
    public async Task A_revoked_name_can_be_issued_again_without_force_and_the_old_files_are_kept()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a");
        using var old = _pki.Load("issued/site-a.pem");
        await _pki.OkAsync("revoke", "site-a", "--reason", "keyCompromise");

        await _pki.OkAsync("issue", "client", "site-a");

        using var fresh = _pki.Load("issued/site-a.pem");
        Assert.NotEqual(old.SerialNumber, fresh.SerialNumber);
        Assert.True(File.Exists(_pki.PathOf($"renewed/site-a-{old.SerialNumber}.pem")));
        Assert.True(File.Exists(_pki.PathOf($"private/renewed/site-a-{old.SerialNumber}.key")));
    }

    private List<(BigInteger Number, CertificateRevocationListBuilder Builder)> Crls()
    {
        var text = File.ReadAllText(_pki.PathOf("crl.pem"));
        var result = new List<(BigInteger, CertificateRevocationListBuilder)>();
        foreach (var block in text.Split("-----END X509 CRL-----", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var builder = CertificateRevocationListBuilder.LoadPem(block + "\n-----END X509 CRL-----", out var number);
            result.Add((number, builder));
        }

        return result;
    }

    private UnixFileMode GetMode(string relative) =>
        OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(_pki.PathOf(relative));
}
