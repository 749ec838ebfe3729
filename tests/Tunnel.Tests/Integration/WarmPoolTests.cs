using System.Net.Sockets;
using Tunnel.Client.Dialing;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>The warm pool: ready, verified TLS connections that a new connection from Squid uses without a handshake,
/// and that leave the pool when the server closes them or they age.</summary>
public sealed class WarmPoolTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 60_000)]
    public async Task A_new_connection_uses_a_pooled_tunnel_and_the_pool_refills()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c => c["poolSize"] = "2");
        var warm = tunnel.Client!.Tunnels[0].Connector.Warm!;
        await Poll.UntilAsync(() => Task.FromResult((warm.Idle == 2, warm.Idle)), Wait, "two pooled connections");
        Assert.Equal(0, upstream.Accepted); // idle pooled connections cost the upstream nothing

        for (var i = 0; i < 5; i++)
        {
            using var socket = await tunnel.ConnectClientAsync();
            await socket.SendAsync("ping"u8.ToArray(), SocketFlags.None);
            Assert.Equal(4, await socket.ReceiveAsync(new byte[4].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
            await Poll.UntilAsync(() => Task.FromResult((warm.Idle == 2, warm.Idle)), Wait, "the pool refilled");
        }

        var metrics = tunnel.Client.Metrics.Registry.Render();
        Assert.Contains("tunnel_pool_takes_total{tunnel=\"default\",result=\"hit\"} 5", metrics);
        Assert.Contains("tunnel_pool_idle_connections{tunnel=\"default\"} 2", metrics);
        Assert.Equal(5, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task Pooled_connections_the_server_closes_leave_the_pool_at_once()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c => c["poolSize"] = "3");
        var warm = tunnel.Client!.Tunnels[0].Connector.Warm!;
        await Poll.UntilAsync(() => Task.FromResult((warm.Idle == 3, warm.Idle)), Wait, "three pooled connections");

        Assert.Equal(0, await tunnel.StopServerAsync()); // a drain closes connections that never sent a byte
        await Poll.UntilAsync(() => Task.FromResult((warm.Idle == 0, warm.Idle)), Wait, "the pool emptied");

        using var socket = await tunnel.ConnectClientAsync();
        var response = await ProxyExchange.SendAsync(socket, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", Wait);
        Assert.StartsWith("HTTP/1.1 503", response);
    }

    [Fact(Timeout = 60_000)]
    public async Task Pooled_connections_older_than_the_maximum_age_are_replaced_not_used()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c =>
        {
            c["poolSize"] = "1";
            c["poolMaxAge"] = "300ms";
        });

        // The pool keeps replacing its connection: the server sees them come and go without data.
        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains("conn 3 closed") && l.Message.Contains("reason=no-data"), Wait);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_burst_grows_the_pool_and_it_shrinks_back_once_its_connections_age_unused()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c =>
        {
            c["poolSize"] = "1";
            c["poolMaxAge"] = "1s";
        });
        var warm = tunnel.Client!.Tunnels[0].Connector.Warm!;
        await Poll.UntilAsync(() => Task.FromResult((warm.Idle == 1, warm.Idle)), Wait, "one pooled connection");

        // Six connections at once against one pooled: the first takes it, the others find the pool empty.
        var sockets = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => tunnel.ConnectClientAsync()));
        await Task.WhenAll(sockets.Select(s => s.SendAsync("ping"u8.ToArray(), SocketFlags.None)));
        foreach (var socket in sockets)
        {
            Assert.Equal(4, await socket.ReceiveAsync(new byte[4].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
        }

        var grown = warm.Target;
        Assert.InRange(grown, 2, WarmPool.GrowthFactor);
        await Poll.UntilAsync(() => Task.FromResult((warm.Idle == grown, warm.Idle)), Wait, $"the grown pool filled to {grown}");

        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        // Nobody takes them: each ages out (1 s) and the pool shrinks back to its size.
        await Poll.UntilAsync(() => Task.FromResult((warm.Target == 1, warm.Target)), Wait, "the pool shrank back to poolSize");
        Assert.Contains("tunnel_pool_target_connections{tunnel=\"default\"} 1", tunnel.Client.Metrics.Registry.Render());
    }

    public void Dispose() => _pki.Dispose();
}
