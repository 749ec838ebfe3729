using Tunnel.EndToEnd.Support.Wire;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Concealment;

/// <summary>The tunnel is the only way out: with the firewall's one accept rule (TCP to the tunnel-server's address on
/// 443) deleted, the same fetches that worked a moment before fail with tunnel-client's explanation, and nothing
/// crosses the firewall. If any hop had a way around the tunnel (Squid going direct, a second connection, DNS), the
/// fetch would still work or the site-facing capture would show the attempt.</summary>
[Trait("Category", "EndToEnd")]
public sealed class ClosedTunnelPortLeavesNoWayAround(ITestOutputHelper output)
{
    [Fact(Timeout = 120_000)]
    public async Task Without_the_firewall_rule_for_port_443_the_fetch_fails_with_a_503_and_nothing_crosses()
    {
        // Guards against traffic leaving the site other than through tunnel-client's TLS to the server (which a
        // firewall allowing only that would break, and which would bypass the concealment), and against the failure
        // reaching the user as a hang or a TLS error rather than an HTTP error with a reason.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(110));
        // Short waits, so that the failures come quickly: a dropped SYN is otherwise retried for the default 10 s. No
        // warm pool: every request opens its own connection, so the closed port shows at once (a pooled connection
        // opened before the rule went away is the next test's case).
        await using var scene = await FirewalledChain.StartAsync("closed", ["--sni", "cover.example.net", "--connect-timeout", "2s", "--pool-size", "0"],
            output, deadline.Token);
        await scene.Target.PublishFileAsync("index.html", 4096, seed: 73, deadline.Token);
        var httpsUrl = scene.Target.HttpsUrl("index.html");
        var httpUrl = scene.Target.HttpUrl("index.html");

        var open = await scene.CurlAsync(deadline.Token, httpsUrl);
        Assert.True(open.ExitCode == 0 && open.HttpCode == 200, open.ToString());
        var (_, crossedWhileOpen) = await scene.StopCapturesAsync(deadline.Token);
        FirewallAssert.OnlyTunnelConnections(crossedWhileOpen, scene.Network);

        await scene.Network.RemoveTunnelRuleAsync(deadline.Token);
        var droppedBefore = await scene.Network.DroppedPacketsAsync(deadline.Token);
        await scene.StartCapturesAsync(deadline.Token);

        var connect = await scene.CurlAsync(deadline.Token, httpsUrl);
        Assert.True(connect.HttpConnect == 503 && connect.ExitCode == 56, connect.ToString()); // "CONNECT tunnel failed, response 503"
        // tunnel-client names the server it could not reach and suspects the firewall, which is what happened.
        Assert.Contains($"X-Tunnel-Error: tunnel-server connecting to {scene.Network.TunnelEndpoint} timed out", connect.Headers);
        Assert.Contains("a firewall may be dropping packets", connect.Headers);
        var http = await scene.CurlAsync(deadline.Token, httpUrl);
        Assert.True(http.HttpCode == 503, http.ToString());
        Assert.Contains("X-Tunnel-Error: ", http.Headers);
        Assert.Contains(scene.Network.TunnelEndpoint.ToString(), http.Body);

        var (siteFacing, cloudFacing) = await scene.StopCapturesAsync(deadline.Token);
        output.WriteLine(await scene.Network.RulesetAsync(deadline.Token));

        // Nothing from the site reached the cloud side of the firewall.
        var crossed = cloudFacing.IpFrames.Where(f => f.Source == scene.Network.SiteAddress.ToString()).ToList();
        Assert.True(crossed.Count == 0, $"frames from the site crossed the closed firewall:\n{string.Join('\n', crossed.Take(10))}");
        // What the site tried was the tunnel and nothing else: SYNs to the server's port 443, which the firewall dropped.
        FirewallAssert.OnlyTunnelConnections(siteFacing, scene.Network, attemptsOnly: true);
        Assert.NotEmpty(siteFacing.IpFrames);
        Assert.All(siteFacing.IpFrames, f => Assert.True(f.TcpLength == 0 && f.Source == scene.Network.SiteAddress.ToString(), f.ToString()));
        Assert.True(await scene.Network.DroppedPacketsAsync(deadline.Token) > droppedBefore, "the firewall dropped nothing: nothing was tried");
        FirewallAssert.NeverShows(siteFacing, "secret-target-7f3a");
    }

    [Fact(Timeout = 120_000)]
    public async Task A_request_on_a_pooled_connection_whose_path_went_silent_gets_an_explained_error_not_a_hang()
    {
        // Guards the 502/503 promise against the warm pool: a connection verified a moment ago can be dead by the time
        // a request uses it, and a firewall that drops (rather than resets) gives no sign but silence.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(110));
        // TCP_USER_TIMEOUT (--tcp-user-timeout) is what turns the silence into an error on the pooled connection.
        await using var scene = await FirewalledChain.StartAsync("pooled",
            ["--sni", "cover.example.net", "--connect-timeout", "2s", "--tcp-user-timeout", "5s"], output, deadline.Token);
        await scene.Target.PublishFileAsync("index.html", 4096, seed: 76, deadline.Token);
        var httpsUrl = scene.Target.HttpsUrl("index.html");
        var open = await scene.CurlAsync(deadline.Token, httpsUrl); // the pool is filled and in use
        Assert.True(open.ExitCode == 0 && open.HttpCode == 200, open.ToString());

        await scene.Network.RemoveTunnelRuleAsync(deadline.Token);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var connect = await scene.CurlAsync(deadline.Token, httpsUrl);

        Assert.True(connect.HttpConnect is 502 or 503 or 504, connect.ToString());
        Assert.Contains("X-Tunnel-Error: ", connect.Headers);
        Assert.Contains(scene.Network.TunnelEndpoint.ToString(), connect.Headers);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"the answer took {started.Elapsed}");
    }
}
