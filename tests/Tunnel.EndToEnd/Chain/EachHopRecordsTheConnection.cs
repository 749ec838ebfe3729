using Tunnel.EndToEnd.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Chain;

/// <summary>What operators read after the fact: the upstream proxy's access.log names the real destination, and
/// tunnel-server's log names the site (the client certificate) that asked for it.</summary>
[Trait("Category", "EndToEnd")]
public sealed class EachHopRecordsTheConnection(ITestOutputHelper output)
{
    [Fact(Timeout = 120_000)]
    public async Task The_upstream_proxy_logs_the_CONNECT_target_and_tunnel_server_logs_the_client_certificate()
    {
        // Guards against the CONNECT line not reaching the upstream proxy as sent (the whole point: the customer
        // firewall never sees it, the upstream proxy does), and against tunnel-server losing the authenticated
        // identity or the byte counts in its per-connection log lines.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        await using var chain = await ProxyChain.StartAsync("logs", output, deadline.Token);
        await chain.Target.PublishFileAsync("page.bin", 200_000, seed: 31, deadline.Token);

        var result = await chain.CurlAsync(deadline.Token, chain.Target.HttpsUrl("page.bin"));
        Assert.True(result.ExitCode == 0 && result.HttpCode == 200, result.ToString());

        var target = $"{NginxTarget.HostName}:{chain.Target.HttpsPort}";
        var outerLine = await chain.Outer.WaitForAccessLogAsync(l => l.Contains($"CONNECT {target} ", StringComparison.Ordinal),
            $"CONNECT {target}", deadline.Token);
        Assert.Contains("TCP_TUNNEL/200", outerLine);
        Assert.Contains($"HIER_DIRECT/127.0.0.1", outerLine);

        var identity = $"CN={ProxyChain.ClientName}";
        var opened = await chain.Server.WaitForEventAsync(e => e.EventName == "ConnectionOpened" && e["PeerIdentity"] == identity,
            $"a connection opened by {identity}", deadline.Token);
        Assert.Equal(chain.Outer.Address, opened["Upstream"]);
        Assert.StartsWith("TLSv1.3", opened["TlsProtocol"]);

        var closed = await chain.Server.WaitForEventAsync(e => e.EventName == "ConnectionClosed" && e["ConnectionId"] == opened["ConnectionId"],
            $"the close line of connection {opened["ConnectionId"]}", deadline.Token);
        Assert.Equal(identity, closed["PeerIdentity"]);
        Assert.Equal("done", closed["Reason"]);
        Assert.True(long.Parse(closed["BytesDown"]!, System.Globalization.CultureInfo.InvariantCulture) > 200_000, $"BytesDown={closed["BytesDown"]}");

        // The client side names the server it verified.
        await chain.Client.WaitForEventAsync(e => e.EventName == "ConnectionOpened" && e["PeerIdentity"] == $"CN={ProxyChain.ServerName}",
            "tunnel-client's open line naming the verified server", deadline.Token);
    }
}
