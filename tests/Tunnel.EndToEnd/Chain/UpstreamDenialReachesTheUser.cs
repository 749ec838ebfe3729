using Tunnel.EndToEnd.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Chain;

/// <summary>The upstream proxy's policy is the user's policy: a 403 from an outer-Squid ACL must arrive at curl as
/// that 403, through the inner Squid and both tunnel ends.</summary>
[Trait("Category", "EndToEnd")]
public sealed class UpstreamDenialReachesTheUser(ITestOutputHelper output)
{
    [Fact(Timeout = 120_000)]
    public async Task A_403_from_an_outer_squid_acl_reaches_curl_unchanged_for_http_and_connect()
    {
        // Guards against the tunnel rewriting or swallowing the upstream proxy's answer to a refused request: the
        // tunnel-client's first-response guard must pass a real HTTP error through, not replace it with its own 502,
        // and Squid must not turn a refused CONNECT into "200 Connection established".
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        await using var chain = await ProxyChain.StartAsync("deny", output, deadline.Token,
            outerPolicy: _ => SquidConfig.Deny(ProxyChain.OtherHostName));
        await chain.Target.PublishFileAsync("index.html", 1000, seed: 41, deadline.Token);

        var http = await chain.CurlAsync(deadline.Token, $"http://{ProxyChain.OtherHostName}:{chain.Target.HttpPort}/index.html");
        Assert.True(http.HttpCode == 403, http.ToString());
        Assert.Contains("X-Squid-Error: ERR_ACCESS_DENIED", http.Headers);
        Assert.Contains("outer.e2e.test", http.Body); // the error page was written by the outer Squid
        Assert.DoesNotContain("X-Tunnel-Error", http.Headers);

        var connect = await chain.CurlAsync(deadline.Token, $"https://{ProxyChain.OtherHostName}:{chain.Target.HttpsPort}/index.html");
        Assert.True(connect.HttpConnect == 403, connect.ToString());
        Assert.Equal(56, connect.ExitCode); // "CONNECT tunnel failed, response 403": not a TLS error
        Assert.Contains("X-Squid-Error: ERR_ACCESS_DENIED", connect.Headers);
        Assert.DoesNotContain("X-Tunnel-Error", connect.Headers);

        // Only that domain is refused.
        var allowed = await chain.CurlAsync(deadline.Token, chain.Target.HttpsUrl("index.html"));
        Assert.True(allowed.ExitCode == 0 && allowed.HttpCode == 200, allowed.ToString());

        await chain.Outer.WaitForAccessLogAsync(l => l.Contains("TCP_DENIED/403", StringComparison.Ordinal) && l.Contains($"CONNECT {ProxyChain.OtherHostName}:", StringComparison.Ordinal),
            "the refused CONNECT", deadline.Token);
    }
}
