using Tunnel.EndToEnd.Support;
using Tunnel.EndToEnd.Support.Wire;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Concealment;

/// <summary>The first promise of the threat model (DESIGN.md): a firewall between site and cloud that inspects
/// everything sees one TLS 1.3 connection per tunneled connection to one address on port 443, carrying the operator's
/// cover SNI and ALPN, and nothing of what travels inside: not the CONNECT line, not the inner SNI or the target's
/// certificate, not the name tunnel-client verifies, not the client's identity. Here the firewall is a real network
/// namespace between the site's and the cloud's, forwarding only TCP to the tunnel-server's address on 443, and
/// capturing both of its interfaces from before the first daemon starts.</summary>
[Trait("Category", "EndToEnd")]
public sealed class FirewallSeesOnlyTheCoverName(ITestOutputHelper output)
{
    private const string CoverName = "cover.example.net";
    private const long FileSize = 128 * 1024;

    [Fact(Timeout = 120_000)]
    public async Task Https_and_http_through_the_tunnel_show_the_firewall_tls13_to_one_address_with_the_cover_sni_and_alpn_only()
    {
        // Guards against any byte of the tunneled traffic or its destination leaking to the customer's firewall
        // (a CONNECT line or inner ClientHello in clear, a DNS query for the target, a TLS 1.2 handshake exposing the
        // certificates, a connection around the tunnel), against the cover SNI or ALPN not being what was configured,
        // and against the SNI being tied to the verified name (here they differ, and the verified name never shows).
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(110));
        await using var scene = await FirewalledChain.StartAsync("cover", ["--sni", CoverName, "--alpn", "h2,http/1.1"], output, deadline.Token);
        var expected = await scene.Target.PublishFileAsync("report.bin", FileSize, seed: 71, deadline.Token);

        var https = await scene.CurlAsync(deadline.Token, scene.Target.HttpsUrl("report.bin"));
        Assert.True(https.ExitCode == 0 && https.HttpConnect == 200 && https.HttpCode == 200, https.ToString());
        Assert.Equal(expected, await NginxTarget.Sha256OfFileAsync(https.BodyPath, deadline.Token));
        var http = await scene.CurlAsync(deadline.Token, scene.Target.HttpUrl("report.bin"));
        Assert.True(http.ExitCode == 0 && http.HttpCode == 200, http.ToString());
        Assert.Equal(expected, await NginxTarget.Sha256OfFileAsync(http.BodyPath, deadline.Token));

        // The names did travel, inside the tunnel: the outer Squid in the cloud saw both requests by name.
        await scene.Chain.Outer.WaitForAccessLogAsync(l => l.Contains($"CONNECT {FirewalledChain.TargetHostName}:", StringComparison.Ordinal),
            "the CONNECT to the target", deadline.Token);
        await scene.Chain.Outer.WaitForAccessLogAsync(l => l.Contains($"GET http://{FirewalledChain.TargetHostName}:", StringComparison.Ordinal),
            "the plain GET of the target", deadline.Token);

        var (siteFacing, cloudFacing) = await scene.StopCapturesAsync(deadline.Token);
        output.WriteLine(cloudFacing.DescribeRecordLengths());
        foreach (var view in new[] { siteFacing, cloudFacing })
        {
            FirewallAssert.OnlyTunnelConnections(view, scene.Network);
            FirewallAssert.OnlyTls13(view);

            Assert.All(view.ClientHellos, hello => Assert.True(hello.ServerName == CoverName && hello.Alpn == "h2,http/1.1", hello.ToString()));
            FirewallAssert.ShowsEverywhere(view, CoverName);

            // The first label is searched, not the dotted name: DNS writes names as length-prefixed labels.
            FirewallAssert.NeverShows(view, "secret-target-7f3a");
            FirewallAssert.NeverShows(view, FirewalledChain.ServerName);
            FirewallAssert.NeverShows(view, ProxyChain.ClientName);
            Assert.DoesNotContain("CONNECT", view.Verbose, StringComparison.Ordinal);
            Assert.DoesNotContain("Certificate", view.Verbose.Split('\n').Where(l => l.Contains("Handshake Type", StringComparison.Ordinal)));
        }
    }
}
