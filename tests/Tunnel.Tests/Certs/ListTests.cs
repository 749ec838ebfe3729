using System.Text.Json;

namespace Tunnel.Tests.Certs;

public sealed class ListTests : IDisposable
{
    private const int Timeout = 60_000;
    private readonly CertsSandbox _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task List_shows_every_certificate_with_kind_name_serial_status_and_expiry()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "server", "tunnel.local");
        await _pki.OkAsync("issue", "client", "site-a");
        await _pki.OkAsync("issue", "client", "short", "--days", "2");
        await _pki.OkAsync("revoke", "site-a");
        _pki.Time.Now = _pki.Time.Now.AddDays(3);

        var table = (await _pki.OkAsync("list")).Out;
        var rows = Rows(await _pki.OkAsync("list", "--json"));

        Assert.Equal(["ca", "intermediate", "tunnel.local", "short", "site-a"], rows.Select(r => r.Name));
        Assert.Equal(["root", "intermediate", "server", "client", "client"], rows.Select(r => r.Kind));
        Assert.Equal(["valid", "valid", "valid", "expired", "revoked"], rows.Select(r => r.Status));
        foreach (var row in rows)
        {
            Assert.Matches("^[0-9A-F]+$", row.Serial);
            Assert.Contains(row.Serial, table);
        }

        Assert.Contains("KIND", table);
        Assert.Contains("revoked", table);
        Assert.Contains("expired", table);
    }

    [Fact(Timeout = Timeout)]
    public async Task Expiring_keeps_only_certificates_that_need_action_within_the_window()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "soon", "--days", "10");
        await _pki.OkAsync("issue", "client", "later", "--days", "100");
        await _pki.OkAsync("issue", "client", "revoked-soon", "--days", "5");
        await _pki.OkAsync("revoke", "revoked-soon");
        await _pki.OkAsync("issue", "client", "renewed", "--days", "5");
        await _pki.OkAsync("renew", "renewed", "--days", "200");

        var within30 = Rows(await _pki.OkAsync("list", "--expiring", "30d", "--json"));
        var within365 = Rows(await _pki.OkAsync("list", "--expiring", "365d", "--json"));
        var none = await _pki.OkAsync("list", "--expiring", "1h");

        Assert.Equal(["soon"], within30.Select(r => r.Name));
        Assert.Equal(["later", "renewed", "soon"], within365.Select(r => r.Name).Order());
        Assert.Contains("no certificate", none.Out);
    }

    [Fact(Timeout = Timeout)]
    public async Task Expiring_with_a_bad_window_is_a_usage_error()
    {
        await _pki.OkAsync("init-ca");

        var result = await _pki.RunAsync("list", "--expiring", "soon");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("30d", result.Error, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeout)]
    public async Task List_json_reports_the_crl_number_and_file_paths()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a");
        await _pki.OkAsync("crl");

        using var document = JsonDocument.Parse((await _pki.OkAsync("list", "--json")).Out);

        Assert.Equal(1, document.RootElement.GetProperty("crlNumber").GetInt64());
        var site = document.RootElement.GetProperty("certificates").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "site-a");
        Assert.Equal("issued/site-a.pem", site.GetProperty("certificate").GetString());
        Assert.Equal("private/site-a.key", site.GetProperty("key").GetString());
        Assert.True(site.GetProperty("notAfter").GetDateTimeOffset() > _pki.Time.Now);
    }

    private static List<(string Name, string Kind, string Serial, string Status)> Rows(CliResult result)
    {
        using var document = JsonDocument.Parse(result.Out);
        return document.RootElement.GetProperty("certificates").EnumerateArray()
            .Select(e => (e.GetProperty("name").GetString()!, e.GetProperty("kind").GetString()!, e.GetProperty("serial").GetString()!, e.GetProperty("status").GetString()!))
            .ToList();
    }
}
