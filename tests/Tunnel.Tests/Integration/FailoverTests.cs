using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>A client with several servers keeps working when some are dead or silent.</summary>
public sealed class FailoverTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 90_000)]
    public async Task A_silent_and_a_dead_server_cost_at_most_the_hedge_delay_and_are_skipped_once_probes_see_them()
    {
        // The silent server accepts TCP and never answers the ClientHello, as a black hole behind a TCP proxy does.
        await using var silent = new TcpTestServer(TcpTestServer.Silent);
        using var dead = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        dead.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var deadAddress = $"127.0.0.1:{((IPEndPoint)dead.LocalEndPoint!).Port}";
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c =>
        {
            c["servers"] = $"{silent.Address},{deadAddress},{c["servers"]}";
            c["hedgeDelay"] = "200ms";
            c["handshakeTimeout"] = "2s";
            c["healthCheckInterval"] = "300ms";
        });

        var latencies = new List<double>();
        for (var i = 0; i < 30; i++)
        {
            var watch = Stopwatch.StartNew();
            using var socket = await tunnel.ConnectClientAsync();
            await socket.SendAsync("ping"u8.ToArray(), SocketFlags.None);
            var buffer = new byte[4];
            Assert.Equal(4, await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
            latencies.Add(watch.Elapsed.TotalMilliseconds);
        }

        output.WriteLine("latency per connection (ms): " + string.Join(", ", latencies.Select(l => l.ToString("0"))));
        Assert.All(latencies, l => Assert.True(l < 1500, $"a connection took {l:0} ms; hedging should bound it near 200 ms"));
        await _logs.WaitForAsync(l => l.Message.Contains($"health check marks {silent.Address} down"), Wait);
        await _logs.WaitForAsync(l => l.Message.Contains($"health check marks {deadAddress} down"), Wait);

        var metrics = tunnel.Client!.Metrics.Registry.Render();
        Assert.Contains($"tunnel_server_up{{tunnel=\"default\",backend=\"{silent.Address}\"}} 0", metrics);
        Assert.Contains($"tunnel_server_up{{tunnel=\"default\",backend=\"{deadAddress}\"}} 0", metrics);
        Assert.Contains($"tunnel_server_up{{tunnel=\"default\",backend=\"127.0.0.1:{tunnel.ServerEndPoint.Port}\"}} 1", metrics);
    }

    [Fact(Timeout = 60_000)]
    public async Task When_every_server_is_down_a_proxy_request_gets_a_fast_503_listing_them()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c => c["healthCheckInterval"] = "200ms");
        await tunnel.StopServerAsync();
        await _logs.WaitForAsync(l => l.Message.Contains("health check marks") && l.Message.Contains("down"), Wait);

        var watch = Stopwatch.StartNew();
        using var socket = await tunnel.ConnectClientAsync();
        var response = await ProxyExchange.SendAsync(socket, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", Wait);
        Assert.StartsWith("HTTP/1.1 503", response);
        Assert.Contains("tunnel-server cannot connect to", response);
        Assert.Contains("connection refused (known down for", response);
        Assert.True(watch.ElapsedMilliseconds < 500, $"took {watch.ElapsedMilliseconds} ms");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_server_that_comes_back_is_used_again()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        using var placeholder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        placeholder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)placeholder.LocalEndPoint!).Port;
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c =>
        {
            c["servers"] = $"127.0.0.1:{port},{c["servers"]}";
            c["healthCheckInterval"] = "200ms";
        });
        await _logs.WaitForAsync(l => l.Message.Contains($"health check marks 127.0.0.1:{port} down"), Wait);

        // A second tunnel-server appears on the first address: the probe re-admits it and failover prefers it again.
        placeholder.Dispose();
        await using var second = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["listen"] = $"127.0.0.1:{port}", withClient: false);
        await _logs.WaitForAsync(l => l.Message.Contains($"health check marks 127.0.0.1:{port} up again"), Wait);

        using var socket = await tunnel.ConnectClientAsync();
        await socket.SendAsync("ping"u8.ToArray(), SocketFlags.None);
        Assert.Equal(4, await socket.ReceiveAsync(new byte[4].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
        await _logs.WaitForAsync(l => l.Category == "tunnel-client" && l.Message.Contains($"-> 127.0.0.1:{port} (TLSv1.3"), Wait);
    }

    public void Dispose() => _pki.Dispose();
}
