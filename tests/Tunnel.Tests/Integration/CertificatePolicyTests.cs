using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Tunnel.Tests.Support;
using Tunnel.Tls;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>Certificate policy in the daemons: CRL, allow-list, pins, and reload without dropping connections.</summary>
public sealed class CertificatePolicyTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 60_000)]
    public async Task A_revoked_client_is_refused_after_reload_while_another_clients_connection_carries_on()
    {
        var siteA = _pki.IssueClient("site-a");
        var siteB = _pki.IssueClient("site-b");
        var crl = _pki.WriteCrl([]);
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["crl"] = crl, withClient: false);

        await using var established = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, siteA);
        await EchoAsync(established, "before");
        await using (var b = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, siteB))
        {
            await EchoAsync(b, "site-b is fine before revocation");
        }

        _pki.WriteCrl([siteB.Cert]);
        Assert.True(tunnel.ReloadServer());

        await using (var b = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, siteB))
        {
            Assert.True(await TlsTestClient.IsRefusedAsync(b, Wait));
        }

        await _logs.WaitForAsync(l => l.Message.Contains("CN=site-b is refused") && l.Message.Contains("revoked"), Wait);
        await EchoAsync(established, "after");
        await using var freshA = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, siteA);
        await EchoAsync(freshA, "site-a still welcome");
    }

    [Fact(Timeout = 60_000)]
    public async Task With_a_crl_configured_a_client_whose_issuer_has_no_crl_is_refused()
    {
        var other = new TestPki("Second Root");
        var bundle = Path.Combine(_pki.Folder, "two-roots.pem");
        File.WriteAllText(bundle, File.ReadAllText(_pki.CaPath) + File.ReadAllText(other.CaPath));
        var crl = _pki.WriteCrl([]);
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["crl"] = crl;
            s["ca"] = bundle;
        }, withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, other.IssueClient("from-second-root"));
        Assert.True(await TlsTestClient.IsRefusedAsync(tls, Wait));
        await _logs.WaitForAsync(l => l.Message.Contains("no CRL for its issuer"), Wait);
        other.Dispose();
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_not_yet_valid_is_refused()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);
        var future = _pki.IssueClient("future-site", DateTimeOffset.UtcNow.AddDays(2), DateTimeOffset.UtcNow.AddDays(30));

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, future);
        Assert.True(await TlsTestClient.IsRefusedAsync(tls, Wait));
        await _logs.WaitForAsync(l => l.Message.Contains("is not valid before"), Wait);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task Only_clients_in_the_allow_list_get_through()
    {
        var pinned = _pki.IssueClient("pinned-site");
        using var pinnedCert = X509Certificate2.CreateFromPem(File.ReadAllText(pinned.Cert));
        var withDns = _pki.Issue(new Tunnel.Certs.CertificateSpec(Tunnel.Certs.CertificateKind.Client, "dns-site", DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1))
        {
            DnsNames = ["edge7.sites.example"],
        });
        var allowFile = Path.Combine(_pki.Folder, "allow.txt");
        File.WriteAllLines(allowFile, ["# sites", "dns:*.sites.example", $"spki:{CertificateInfo.SpkiPin(pinnedCert)}"]);
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["allow"] = "cn:site-a";
            s["allowFile"] = allowFile;
        }, withClient: false);

        foreach (var allowed in new[] { _pki.IssueClient("site-a"), pinned, withDns })
        {
            await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, allowed);
            await EchoAsync(tls, "allowed");
        }

        await using (var stranger = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, _pki.IssueClient("site-z")))
        {
            Assert.True(await TlsTestClient.IsRefusedAsync(stranger, Wait));
        }

        await _logs.WaitForAsync(l => l.Message.Contains("CN=site-z is valid but not in the allow-list") && l.Message.Contains("spki:sha256/"), Wait);
        Assert.Equal(3, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_client_refuses_a_server_that_matches_none_of_its_pins_and_accepts_a_pinned_CA()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        var wrongPin = CertificateInfo.SpkiPin(X509Certificate2.CreateFromPem(File.ReadAllText(_pki.IssueClient("unrelated").Cert)));
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c => c["serverPins"] = wrongPin);

        using (var socket = await tunnel.ConnectClientAsync())
        {
            var response = await ProxyExchange.SendAsync(socket, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", Wait);
            Assert.StartsWith("HTTP/1.1 502", response);
            Assert.Contains("matches none of the configured serverPins", response);
        }

        Assert.Equal(0, upstream.Accepted);
        Assert.True(tunnel.ReloadClient(c => c["serverPins"] = CertificateInfo.SpkiPin(_pki.Root)));
        using (var socket = await tunnel.ConnectClientAsync())
        {
            await socket.SendAsync("pinned"u8.ToArray(), SocketFlags.None);
            var buffer = new byte[6];
            Assert.Equal(6, await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Ten_long_transfers_run_undisturbed_across_reloads_and_a_corrupt_certificate_keeps_the_old_one()
    {
        const long Size = 8L * 1024 * 1024;
        var received = new List<TaskCompletionSource<(string, long)>>();
        var releaseUpload = new TaskCompletionSource();
        await using var upstream = new TcpTestServer(async socket =>
        {
            var done = new TaskCompletionSource<(string, long)>();
            lock (received)
            {
                received.Add(done);
            }

            using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.ReadExactlyAsync(new byte[1]); // the byte that opened the tunnel
            done.TrySetResult(await Payload.ReceiveAsync(stream));
            await stream.WriteAsync("ok"u8.ToArray());
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);

        var transfers = Enumerable.Range(0, 10).Select(async i =>
        {
            using var socket = await tunnel.ConnectClientAsync();
            using var stream = new NetworkStream(socket);
            await stream.WriteAsync(new byte[] { 1 }); // opens the tunnel now
            await releaseUpload.Task;
            var sent = await Payload.SendAsync(stream, Size, seed: 100 + i, chunk: 16 * 1024);
            socket.Shutdown(SocketShutdown.Send);
            var answer = await Payload.ReceiveAsync(stream);
            return (sent, answer.Length);
        }).ToList();
        await tunnel.Server.Tracker.WhenActiveAsync(10).WaitAsync(Wait);

        for (var round = 0; round < 3; round++)
        {
            var renewed = _pki.IssueServer();
            Assert.True(tunnel.ReloadServer(s =>
            {
                s["cert"] = renewed.Cert;
                s["key"] = renewed.Key;
            }));
        }

        File.WriteAllText(tunnel.ServerValues["cert"], "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
        Assert.False(tunnel.ReloadServer());
        await _logs.WaitForAsync("reload failed, still serving with the previous material", Wait);

        releaseUpload.SetResult();
        var results = await Task.WhenAll(transfers).WaitAsync(TimeSpan.FromSeconds(90));
        Assert.All(results, r => Assert.Equal(2, r.Length));
        Task<(string, long)>[] uploads;
        lock (received)
        {
            uploads = received.Select(r => r.Task).ToArray();
        }

        var hashes = (await Task.WhenAll(uploads)).Select(u => u.Item1).ToHashSet();
        Assert.Equal(10, uploads.Length);
        Assert.All(results, r => Assert.Contains(r.sent, hashes));

        using var fresh = await tunnel.ConnectClientAsync();
        using var freshStream = new NetworkStream(fresh);
        await freshStream.WriteAsync("xstill serving"u8.ToArray());
        fresh.Shutdown(SocketShutdown.Send);
        Assert.Equal(2, (await Payload.ReceiveAsync(freshStream).WaitAsync(Wait)).Length);
    }

    [Fact(Timeout = 60_000)]
    public async Task Changed_certificate_files_are_picked_up_without_a_signal()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["watchInterval"] = "200ms", withClient: false);
        var before = tunnel.Server.Tunnels[0].Tls.Current;

        var renewed = _pki.IssueServer("tunnel.test");
        File.Copy(renewed.Cert, tunnel.ServerValues["cert"], overwrite: true);
        File.Copy(renewed.Key, tunnel.ServerValues["key"], overwrite: true);

        await _logs.WaitForAsync("files changed; reloading", Wait);
        await _logs.WaitForAsync("reloaded certificates and trust material", Wait);
        Assert.NotSame(before, tunnel.Server.Tunnels[0].Tls.Current);
        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, _pki.IssueClient());
        using var served = X509Certificate2.CreateFromPem(File.ReadAllText(renewed.Cert));
        Assert.Equal(served.Thumbprint, new X509Certificate2(tls.RemoteCertificate!).Thumbprint);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_certificate_expiring_soon_is_warned_about_at_start()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        var soon = _pki.IssueServer(notAfter: DateTimeOffset.UtcNow.AddDays(5));
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["cert"] = soon.Cert;
            s["key"] = soon.Key;
        }, withClient: false);

        var warning = await _logs.WaitForAsync(l => l.Message.Contains("CN=tunnel.test") && l.Message.Contains("expires in"), Wait);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
    }

    private static async Task EchoAsync(SslStream stream, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        await stream.WriteAsync(bytes);
        var buffer = new byte[bytes.Length];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(Wait);
        Assert.Equal(text, Encoding.UTF8.GetString(buffer));
    }

    public void Dispose() => _pki.Dispose();
}
