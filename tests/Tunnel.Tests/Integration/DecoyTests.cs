using System.Net.Security;
using System.Text;
using Tunnel.Common;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>With a decoy configured, a connection that completes the TLS handshake without a valid client
/// certificate is served the decoy website, decrypted, instead of being refused: an active prober sees an ordinary
/// HTTPS site and no tunnel-specific alert, and the upstream proxy is never dialled for it. Authenticated clients on
/// the same port still get the tunnel.</summary>
public sealed class DecoyTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TestPki _pki = new();
    private readonly TestPki _otherPki = new("Some Other Root");
    private readonly LogCollector _logs = new(output);

    public enum Presented
    {
        None,
        OtherCa,
        Expired,
        Revoked,
        NotAllowed,
    }

    [Theory(Timeout = 60_000)]
    [InlineData(Presented.None, "presented no certificate")]
    [InlineData(Presented.OtherCa, "does not chain to the configured CA")]
    [InlineData(Presented.Expired, "expired on")]
    [InlineData(Presented.Revoked, "revoked")]
    [InlineData(Presented.NotAllowed, "not in the allow-list")]
    public async Task An_unauthenticated_client_gets_the_decoy_page_and_never_reaches_the_upstream(Presented presented, string refusal)
    {
        await using var decoy = new TcpTestServer(WebPage.ServeAsync);
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        var revoked = _pki.IssueClient("stolen-site");
        var crl = _pki.WriteCrl([revoked.Cert]);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["decoy"] = decoy.Address;
            s["crl"] = crl;
            if (presented == Presented.NotAllowed)
            {
                s["allow"] = "cn:site-a";
            }
        }, withClient: false);
        (string Cert, string Key)? certificate = presented switch
        {
            Presented.None => null,
            Presented.OtherCa => _otherPki.IssueClient("intruder"),
            Presented.Expired => _pki.IssueClient("old-site", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1)),
            Presented.Revoked => revoked,
            _ => _pki.IssueClient("site-z"),
        };

        await using (var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, certificate))
        {
            var page = await GetAsync(tls);
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", page);
            Assert.EndsWith(WebPage.Body, page);
        }

        var served = await _logs.WaitForAsync(l => l.EventId.Name == "DecoyServed", Wait);
        Assert.Contains(refusal, (string)served["Refusal"]!);
        Assert.Equal(decoy.Address, served["Decoy"]);
        var closed = await _logs.WaitForAsync("reason=decoy", Wait);
        Assert.Equal(decoy.Address, closed["Upstream"]);
        Assert.DoesNotContain(_logs.Lines, l => l.EventId.Name == "HandshakeFailed");
        var series = tunnel.Server.Metrics.For("default");
        Assert.Equal(1, series.Accepted(AcceptOutcome.Decoy).Value);
        Assert.Equal(0, series.Accepted(AcceptOutcome.Rejected).Value);
        Assert.Equal(0, series.Accepted(AcceptOutcome.Success).Value);
        Assert.Equal(1, decoy.Accepted);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_authenticated_client_on_the_same_port_gets_the_tunnel_and_the_decoy_is_not_dialled()
    {
        await using var decoy = new TcpTestServer(WebPage.ServeAsync);
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["decoy"] = decoy.Address);

        using (var socket = await tunnel.ConnectClientAsync())
        {
            await socket.SendAsync("GET http://example.test/ HTTP/1.1\r\n\r\n"u8.ToArray(), System.Net.Sockets.SocketFlags.None);
            socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            var echoed = new byte[64];
            var length = 0;
            int read;
            while ((read = await socket.ReceiveAsync(echoed.AsMemory(length), System.Net.Sockets.SocketFlags.None).AsTask().WaitAsync(Wait)) > 0)
            {
                length += read;
            }

            Assert.Equal("GET http://example.test/ HTTP/1.1\r\n\r\n", Encoding.ASCII.GetString(echoed, 0, length));
        }

        await using (var prober = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, null))
        {
            Assert.EndsWith(WebPage.Body, await GetAsync(prober));
        }

        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains("reason=done"), Wait);
        await _logs.WaitForAsync("reason=decoy", Wait);
        Assert.Equal(1, upstream.Accepted);
        Assert.Equal(1, decoy.Accepted);
        var series = tunnel.Server.Metrics.For("default");
        Assert.Equal(1, series.Accepted(AcceptOutcome.Success).Value);
        Assert.Equal(1, series.Accepted(AcceptOutcome.Decoy).Value);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(new[] { "h2", "http/1.1" }, "http/1.1")]
    [InlineData(new string[0], "")]
    public async Task A_browser_offering_h2_and_http11_is_given_http11_and_a_client_offering_nothing_gets_no_ALPN(string[] offered, string selected)
    {
        await using var decoy = new TcpTestServer(WebPage.ServeAsync);
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["decoy"] = decoy.Address;
            s["alpn"] = "http/1.1";
        }, withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, null, alpn: offered.Length == 0 ? null : offered);
        Assert.Equal(selected, tls.NegotiatedApplicationProtocol.ToString());
        Assert.EndsWith(WebPage.Body, await GetAsync(tls));
    }

    [Fact(Timeout = 60_000)]
    public async Task Without_a_decoy_an_unauthenticated_client_is_still_refused()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, null);
        Assert.True(await TlsTestClient.IsRefusedAsync(tls, Wait));
        await _logs.WaitForAsync("reason=client-rejected", Wait);
        Assert.Equal(1, tunnel.Server.Metrics.For("default").Accepted(AcceptOutcome.Rejected).Value);
        Assert.Equal(0, tunnel.Server.Metrics.For("default").Accepted(AcceptOutcome.Decoy).Value);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_decoy_that_is_down_resets_the_prober_and_still_never_dials_the_upstream()
    {
        var down = new TcpTestServer(WebPage.ServeAsync);
        var address = down.Address;
        await down.DisposeAsync();
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["decoy"] = address, withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, null);
        Assert.True(await TlsTestClient.IsRefusedAsync(tls, Wait));
        var warning = await _logs.WaitForAsync(l => l.EventId.Name == "DecoyUnreachable", Wait);
        Assert.Contains(address, warning.Message);
        await _logs.WaitForAsync("reason=decoy-unreachable", Wait);
        Assert.Equal(0, upstream.Accepted);
    }

    private static async Task<string> GetAsync(SslStream tls)
    {
        await tls.WriteAsync("GET / HTTP/1.1\r\nHost: tunnel.test\r\n\r\n"u8.ToArray());
        var response = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await tls.ReadAsync(buffer).AsTask().WaitAsync(Wait)) > 0)
        {
            response.Write(buffer, 0, read);
        }

        return Encoding.ASCII.GetString(response.ToArray());
    }

    public void Dispose()
    {
        _pki.Dispose();
        _otherPki.Dispose();
    }
}
