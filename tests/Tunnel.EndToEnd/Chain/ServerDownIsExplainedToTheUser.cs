using Tunnel.EndToEnd.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Chain;

/// <summary>With tunnel-server gone, a user behind the inner Squid gets an HTTP error carrying tunnel-client's
/// reason, not "200 Connection established" followed by a TLS failure (ecosystem.md B3.3).</summary>
/// <remarks>What Squid 5.7 does with tunnel-client's 503 (observed, and asserted below):
/// for a plain-HTTP request it relays the 503 with its X-Tunnel-Error header and body. For a CONNECT it relays the
/// 503 status line and headers (curl reports "CONNECT tunnel failed, response 503", exit 56) but counts each refused
/// CONNECT as a failed connection to the parent ("TCP connection to 127.0.0.1/PORT failed" in cache.log). After
/// connect-fail-limit (default 10) of them in a row it declares the parent DEAD and answers the next CONNECT itself
/// with a bare 500 (NONE_NONE/500, no reason), probes the parent, finds it accepting, declares it REVIVED, and the
/// following CONNECTs get tunnel-client's 503 with the reason again.</remarks>
[Trait("Category", "EndToEnd")]
public sealed class ServerDownIsExplainedToTheUser(ITestOutputHelper output)
{
    [Fact(Timeout = 150_000)]
    public async Task After_tunnel_server_stops_curl_gets_a_503_with_tunnel_clients_reason()
    {
        // Guards against the regression the whole 502/503 design exists for: tunnel-client closing silently when
        // it cannot reach tunnel-server, which Squid turns into "200 Connection established" and curl into a TLS
        // error (exit 35) that tells the user nothing. Also guards SIGTERM on an idle tunnel-server exiting 0.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(130));
        await using var chain = await ProxyChain.StartAsync("down", output, deadline.Token);
        await chain.Target.PublishFileAsync("index.html", 1000, seed: 61, deadline.Token);
        var httpsUrl = chain.Target.HttpsUrl("index.html");

        // A CONNECT (not a GET) first: the chain works, and no persistent connection is left for a drain to wait on.
        var before = await chain.CurlAsync(deadline.Token, httpsUrl);
        Assert.True(before.ExitCode == 0 && before.HttpCode == 200, before.ToString());

        Assert.Equal(0, await chain.Server.StopAsync(deadline.Token));

        var connect = await chain.CurlAsync(deadline.Token, httpsUrl);
        Assert.True(connect.HttpConnect == 503, connect.ToString());
        Assert.Equal(56, connect.ExitCode); // "CONNECT tunnel failed, response 503", not 35 (TLS)
        Assert.Contains($"X-Tunnel-Error: tunnel-server cannot connect to {chain.Server.Address}: connection refused", connect.Headers);

        var http = await chain.CurlAsync(deadline.Token, chain.Target.HttpUrl("index.html"));
        Assert.True(http.HttpCode == 503, http.ToString());
        Assert.Contains("X-Tunnel-Error: tunnel-server cannot connect to", http.Headers);
        Assert.Contains($"tunnel-server cannot connect to {chain.Server.Address}: connection refused", http.Body);
        Assert.Contains("Via: 1.1 inner.e2e.test", http.Headers); // relayed by the inner Squid, not made up by curl

        await chain.Client.WaitForEventAsync(e => e.EventName == "ConnectionClosed" && e["Reason"] == "server-unreachable",
            "tunnel-client's close line with reason=server-unreachable", deadline.Token);

        await AssertRepeatedConnectsAsync(chain, httpsUrl, deadline.Token);
    }

    /// <summary>Keeps asking until Squid has declared the parent dead, then until it has revived it, and checks
    /// that every answer on the way was an HTTP error the user can read, never a TLS failure.</summary>
    private async Task AssertRepeatedConnectsAsync(ProxyChain chain, string url, CancellationToken deadline)
    {
        const int MaxBeforeDead = 15; // connect-fail-limit defaults to 10
        var outcomes = new List<string>();

        async Task<bool> CarriesReasonAsync()
        {
            var result = await chain.CurlAsync(deadline, url);
            Assert.True(result.ExitCode == 56, $"attempt {outcomes.Count + 1}: {result}");
            if (result.HttpConnect == 503 && result.Headers.Contains("X-Tunnel-Error: tunnel-server cannot connect", StringComparison.Ordinal))
            {
                outcomes.Add("503+reason");
                return true;
            }

            // Squid's own answer while it holds the parent dead: an HTTP error, but without the reason.
            Assert.True(result.HttpConnect is 500 or 502 or 503, $"attempt {outcomes.Count + 1}: {result}");
            outcomes.Add($"{result.HttpConnect} from Squid");
            return false;
        }

        while (await CarriesReasonAsync())
        {
            Assert.True(outcomes.Count < MaxBeforeDead, $"Squid never marked the parent dead: {string.Join(", ", outcomes)}");
        }

        Assert.Contains(chain.Inner.CacheLog, l => l.Contains("Detected DEAD Parent: tunnel", StringComparison.Ordinal));

        // Squid probes a dead parent at most once per second (of its clock), so revival takes up to about a second.
        using var revival = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        revival.CancelAfter(TimeSpan.FromSeconds(15));
        await Poll.UntilAsync(_ => CarriesReasonAsync(), "Squid to revive the parent and relay tunnel-client's 503 again", revival.Token);

        output.WriteLine($"repeated CONNECTs with tunnel-server down: {string.Join(", ", outcomes)}");
        Assert.Contains(chain.Inner.CacheLog, l => l.Contains("Detected REVIVED Parent: tunnel", StringComparison.Ordinal));
    }
}
