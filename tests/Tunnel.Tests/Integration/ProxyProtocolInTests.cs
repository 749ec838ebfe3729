using System.Net.Security;
using System.Security.Authentication;
using System.Text;
using Microsoft.Extensions.Logging;
using Tunnel.Common;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>Behind a load balancer that sends PROXY headers, tunnel-server takes the client address from the header:
/// it is what the logs show and what the per-source limit counts. A connection without a valid header, when one is
/// required, is closed before TLS and never reaches the upstream.</summary>
public sealed class ProxyProtocolInTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    /// <summary>"PROXY TCP4 198.51.100.7 203.0.113.1 40001 443", the same connection in either version.</summary>
    private static readonly Dictionary<string, byte[]> Headers = new()
    {
        ["v1"] = Encoding.ASCII.GetBytes("PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\r\n"),
        ["v2"] = Convert.FromHexString("0D0A0D0A000D0A515549540A" + "21" + "11" + "000C" + "C6336407" + "CB007101" + "9C41" + "01BB"),
    };

    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Theory(Timeout = 60_000)]
    [InlineData("v1", "v1")]
    [InlineData("v2", "v2")]
    [InlineData("any", "v1")]
    [InlineData("any", "v2")]
    public async Task The_address_in_the_header_is_the_peer_in_the_log(string mode, string sent)
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["proxyProtocol"] = mode, withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, tunnel.ClientCertificate, preamble: Headers[sent]);
        await EchoAsync(tls);

        var open = await _logs.WaitForAsync(" open: ", Wait);
        Assert.Equal("198.51.100.7:40001", open["Peer"]);
        var received = await _logs.WaitForAsync(l => l.EventId.Name == "ProxyHeaderReceived", Wait);
        Assert.StartsWith("127.0.0.1:", (string)received["Via"]!);
        Assert.Equal("203.0.113.1:443", received["Destination"]);
        Assert.Equal(1, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_LOCAL_header_from_a_balancer_health_check_keeps_the_real_address()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["proxyProtocol"] = "v2", withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, tunnel.ClientCertificate,
            preamble: Convert.FromHexString("0D0A0D0A000D0A515549540A" + "20" + "00" + "0000"));
        await EchoAsync(tls);

        var open = await _logs.WaitForAsync(" open: ", Wait);
        Assert.StartsWith("127.0.0.1:", (string)open["Peer"]!);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_per_source_limit_counts_the_address_from_the_header_not_the_balancer()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["proxyProtocol"] = "v1";
            s["maxConnectionsPerSource"] = "1";
        }, withClient: false);
        var first = Encoding.ASCII.GetBytes("PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\r\n");
        var sameSource = Encoding.ASCII.GetBytes("PROXY TCP4 198.51.100.7 203.0.113.1 40002 443\r\n");
        var otherSource = Encoding.ASCII.GetBytes("PROXY TCP4 198.51.100.8 203.0.113.1 40001 443\r\n");

        // All three come from 127.0.0.1 (the "balancer"); only the second shares its client address with the first.
        await using var held = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, tunnel.ClientCertificate, preamble: first);
        await EchoAsync(held);
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var refused = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, tunnel.ClientCertificate, preamble: sameSource);
            await EchoAsync(refused);
        });
        await using (var other = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, tunnel.ClientCertificate, preamble: otherSource))
        {
            await EchoAsync(other);
        }

        var warning = await _logs.WaitForAsync(l => l.EventId.Name == "LimitReached", Wait);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal("198.51.100.7:40002", warning["Peer"]);
        Assert.Contains("198.51.100.7 already has 1 connections (maxConnectionsPerSource 1)", warning.Message);
        var series = tunnel.Server.Metrics.For("default");
        Assert.Equal(1, series.LimitRejected("source").Value);
        Assert.Equal(1, series.Accepted(AcceptOutcome.Limited).Value);
        Assert.Equal(2, series.Accepted(AcceptOutcome.Success).Value);
        Assert.Equal(2, upstream.Accepted);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("v1", null, "TLS handshake record")]
    [InlineData("v2", null, "TLS handshake record")]
    [InlineData("any", "PROXY TCP4 198.51.100.300 203.0.113.1 40001 443\r\n", "not a canonical TCP4 address")]
    [InlineData("v2", "PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\r\n", "v1 header, but this listener accepts v2 only")]
    public async Task A_connection_without_a_valid_header_is_closed_and_never_reaches_the_upstream(string mode, string? preamble, string reason)
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["proxyProtocol"] = mode, withClient: false);

        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, tunnel.ClientCertificate,
                preamble: preamble is null ? null : Encoding.ASCII.GetBytes(preamble));
            await EchoAsync(tls);
        });

        var warning = await _logs.WaitForAsync(l => l.EventId.Name == "ProxyHeaderInvalid", Wait);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.StartsWith("127.0.0.1:", (string)warning["Peer"]!);
        Assert.Contains(reason, warning.Message);
        await _logs.WaitForAsync("reason=bad-proxy-header", Wait);
        Assert.Equal(1, tunnel.Server.Metrics.For("default").Accepted(AcceptOutcome.BadProxyHeader).Value);
        Assert.Equal(0, tunnel.Server.Metrics.For("default").Accepted(AcceptOutcome.Success).Value);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_connection_that_sends_no_header_is_reaped_by_the_handshake_timeout()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["proxyProtocol"] = "any";
            s["handshakeTimeout"] = "500ms";
        }, withClient: false);

        using var silent = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await silent.ConnectAsync(tunnel.ServerEndPoint);
        Assert.Equal(0, await silent.ReceiveAsync(new byte[1].AsMemory(), System.Net.Sockets.SocketFlags.None).AsTask().WaitAsync(Wait));

        var failed = await _logs.WaitForAsync(l => l.EventId.Name == "HandshakeFailed", Wait);
        Assert.Contains("no PROXY protocol header within 500ms", failed.Message);
        await _logs.WaitForAsync("reason=handshake-timeout", Wait);
        Assert.Equal(0, upstream.Accepted);
    }

    private static async Task EchoAsync(SslStream tls)
    {
        await tls.WriteAsync("ping"u8.ToArray());
        var buffer = new byte[4];
        await tls.ReadExactlyAsync(buffer).AsTask().WaitAsync(Wait);
        if (Encoding.ASCII.GetString(buffer) != "ping")
        {
            throw new AuthenticationException("no echo");
        }
    }

    public void Dispose() => _pki.Dispose();
}
