using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>CRLs from an OpenSSL CA in a running tunnel-server, at the handshake, across reloads: a delta CRL added next
/// to its base revokes on top of it (the base's revocations stay), and a CRL file the server cannot honour is refused
/// by the reload, which keeps the CRLs in force.</summary>
public sealed class CrlReloadTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 90_000)]
    public async Task A_delta_crl_revokes_on_top_of_its_base_and_a_bad_crl_file_keeps_the_previous_crls_in_force()
    {
        var ca = new OpenSslCa(_pki);
        var siteA = _pki.IssueClient("site-a");
        var siteB = _pki.IssueClient("site-b");
        var siteC = _pki.IssueClient("site-c");
        var crl = Path.Combine(_pki.Folder, "crl.pem");
        ca.Revoke(siteA.Cert);
        var complete = await ca.GenerateCrlAsync(); // number 1: site-a
        File.WriteAllText(crl, complete);
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["crl"] = crl, withClient: false);
        Assert.True(await IsRefusedAsync(tunnel, siteA));
        Assert.False(await IsRefusedAsync(tunnel, siteB));

        ca.Forget(siteA.Cert);
        ca.Revoke(siteB.Cert);
        ca.AddSection("delta", "2.5.29.27 = critical, ASN1:INTEGER:1");
        File.WriteAllText(crl, complete + await ca.GenerateCrlAsync("delta")); // number 2, base 1: site-b
        Assert.True(tunnel.ReloadServer());
        Assert.True(await IsRefusedAsync(tunnel, siteA), "the base's revocation must survive the delta");
        Assert.True(await IsRefusedAsync(tunnel, siteB), "the delta's revocation applies");
        Assert.False(await IsRefusedAsync(tunnel, siteC));
        await _logs.WaitForAsync(l => l.Message.Contains("CN=site-b is refused") && l.Message.Contains("delta CRL number 2 (base 1)"), Wait);

        ca.AddSection("critical", "1.2.3.4.5 = critical, ASN1:UTF8String:must-understand");
        File.WriteAllText(crl, await ca.GenerateCrlAsync("critical")); // lists site-b only, and is not usable
        Assert.False(tunnel.ReloadServer());
        await _logs.WaitForAsync(l => l.Message.Contains("reload failed") && l.Message.Contains("critical extension 1.2.3.4.5"), Wait);
        Assert.True(await IsRefusedAsync(tunnel, siteA), "the previous CRLs stay in force");
        Assert.True(await IsRefusedAsync(tunnel, siteB));
        Assert.False(await IsRefusedAsync(tunnel, siteC));
    }

    /// <summary>Connects as <paramref name="client"/> and sends a line: true when the server refused it (nothing echoed).</summary>
    private async Task<bool> IsRefusedAsync(TunnelHarness tunnel, (string Cert, string Key) client)
    {
        await using var stream = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, client);
        return await TlsTestClient.IsRefusedAsync(stream, Wait);
    }

    public void Dispose() => _pki.Dispose();
}
