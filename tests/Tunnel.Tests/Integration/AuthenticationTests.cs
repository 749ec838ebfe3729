using System.Text;
using Tunnel.Certs;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>Only clients with a certificate from the configured CA get through, and nothing reaches the upstream
/// before they are authenticated; the client only talks to a server with the expected name.</summary>
public sealed class AuthenticationTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TestPki _pki = new();
    private readonly TestPki _otherPki = new("Some Other Root");
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 60_000)]
    public async Task A_client_without_a_certificate_is_rejected_and_the_upstream_is_never_dialled()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, clientCertificate: null);
        Assert.True(await TlsTestClient.IsRefusedAsync(tls, Wait));
        await _logs.WaitForAsync("reason=client-rejected", Wait);
        Assert.Contains(_logs.Lines, l => l.Message.Contains("presented no certificate"));
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_certificate_from_another_CA_is_rejected_and_the_upstream_is_never_dialled()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, _otherPki.IssueClient("intruder"));
        Assert.True(await TlsTestClient.IsRefusedAsync(tls, Wait));
        await _logs.WaitForAsync("reason=client-rejected", Wait);
        Assert.Contains(_logs.Lines, l => l.Message.Contains("does not chain to the configured CA") && l.Message.Contains("intruder"));
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_server_certificate_used_as_a_client_certificate_is_rejected_for_its_usage()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, _pki.IssueClient("wrong-usage", kind: CertificateKind.Server));
        Assert.True(await TlsTestClient.IsRefusedAsync(tls, Wait));
        await _logs.WaitForAsync("reason=client-rejected", Wait);
        Assert.Contains(_logs.Lines, l => l.Message.Contains("clientAuth missing"));
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_expired_client_certificate_is_rejected()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);
        var expired = _pki.IssueClient("old-site", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1));

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, expired);
        Assert.True(await TlsTestClient.IsRefusedAsync(tls, Wait));
        await _logs.WaitForAsync(l => l.Message.Contains("expired on"), Wait);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_valid_client_certificate_reaches_the_upstream_and_is_named_in_the_log()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, _pki.IssueClient("site-b"));
        await tls.WriteAsync("ping"u8.ToArray());
        var buffer = new byte[4];
        await tls.ReadExactlyAsync(buffer).AsTask().WaitAsync(Wait);
        Assert.Equal("ping", Encoding.ASCII.GetString(buffer));
        var open = await _logs.WaitForAsync(" open: ", Wait);
        Assert.Equal("CN=site-b", open["PeerIdentity"]);
        Assert.Equal(1, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_client_refuses_a_server_whose_certificate_lacks_the_expected_name()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c => c["serverName"] = "wrong.test");

        using var socket = await tunnel.ConnectClientAsync();
        var response = await ProxyExchange.SendAsync(socket, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", Wait);
        Assert.StartsWith("HTTP/1.1 502 Bad Gateway", response);
        Assert.Contains("not 'wrong.test'", response);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_client_refuses_a_server_from_another_CA_and_says_the_network_may_intercept_TLS()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c => c["ca"] = _otherPki.CaPath);

        using var socket = await tunnel.ConnectClientAsync();
        var response = await ProxyExchange.SendAsync(socket, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", Wait);
        Assert.StartsWith("HTTP/1.1 502 Bad Gateway", response);
        Assert.Contains("the network intercepts TLS", response);
        Assert.Contains("Tunnel Test Root", response);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_proxy_request_from_a_refused_client_gets_a_502_naming_the_refusal()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        var intruder = _otherPki.IssueClient("intruder");
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c =>
        {
            c["cert"] = intruder.Cert;
            c["key"] = intruder.Key;
        });

        using var socket = await tunnel.ConnectClientAsync();
        var response = await ProxyExchange.SendAsync(socket, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", Wait);
        Assert.StartsWith("HTTP/1.1 502 Bad Gateway", response);
        Assert.Contains("it refuses the client certificate", response);
        Assert.Equal(0, upstream.Accepted);
        await _logs.WaitForAsync(l => l.Category == "tunnel-client" && l.Level == Microsoft.Extensions.Logging.LogLevel.Warning &&
            l.Message.Contains("it refuses the client certificate"), Wait);
        await _logs.WaitForAsync(l => l.Category == "tunnel-client" && l.Message.Contains("reason=no-answer"), Wait);
    }

    public void Dispose()
    {
        _pki.Dispose();
        _otherPki.Dispose();
    }
}
