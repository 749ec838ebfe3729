using System.Net;
using System.Net.Sockets;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>When the tunnel cannot carry a proxy request, Squid gets an HTTP answer with the reason rather than a
/// silent close (which it would turn into "200 Connection established" and a baffling TLS error).</summary>
public sealed class ProxyErrorTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 60_000)]
    public async Task With_the_server_down_a_CONNECT_gets_503_with_the_reason()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);
        await tunnel.StopServerAsync();

        using var socket = await tunnel.ConnectClientAsync();
        var response = await ProxyExchange.SendAsync(socket, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", Wait);
        Assert.StartsWith("HTTP/1.1 503 Service Unavailable", response);
        Assert.Contains("X-Tunnel-Error: tunnel-server cannot connect to 127.0.0.1:", response);
        Assert.Contains("connection refused", response);
        await _logs.WaitForAsync("reason=server-unreachable", Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task With_the_server_down_other_traffic_is_closed()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);
        await tunnel.StopServerAsync();

        using var socket = await tunnel.ConnectClientAsync();
        await socket.SendAsync("\x16\x03\x01 not http"u8.ToArray(), SocketFlags.None);
        var buffer = new byte[64];
        var error = await Assert.ThrowsAsync<SocketException>(() => socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        await _logs.WaitForAsync("reason=server-unreachable", Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_upstream_proxy_that_closes_without_answering_gets_a_502_naming_it_not_the_certificate()
    {
        // A Squid that is shutting down accepts, reads the request and closes. Relayed as a bare close, tunnel-client
        // could only answer its own 502 blaming a refused certificate (what an early close from tunnel-server usually
        // means); the end-to-end Squid restart showed it. tunnel-server, which saw the upstream close, answers instead.
        await using var upstream = new TcpTestServer(async socket =>
        {
            await socket.ReceiveAsync(new byte[4096].AsMemory(), SocketFlags.None);
            socket.Shutdown(SocketShutdown.Both);
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);

        using var socket = await tunnel.ConnectClientAsync();
        var response = await ProxyExchange.SendAsync(socket, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", Wait);
        Assert.StartsWith("HTTP/1.1 502 Bad Gateway", response);
        Assert.Contains($"X-Tunnel-Error: tunnel-server's upstream proxy {upstream.Address} closed the connection without answering", response);
        Assert.DoesNotContain("certificate", response);
        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains("reason=no-answer"), Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task With_the_upstream_proxy_down_the_server_answers_503_through_the_tunnel()
    {
        using var closedPort = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closedPort.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var deadUpstream = $"127.0.0.1:{((IPEndPoint)closedPort.LocalEndPoint!).Port}";
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, deadUpstream);

        using var socket = await tunnel.ConnectClientAsync();
        var response = await ProxyExchange.SendAsync(socket, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", Wait);
        Assert.StartsWith("HTTP/1.1 503 Service Unavailable", response);
        Assert.Contains("tunnel-server cannot reach its upstream proxy", response);
        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains("reason=upstream-unreachable"), Wait);
    }

    public void Dispose() => _pki.Dispose();
}
