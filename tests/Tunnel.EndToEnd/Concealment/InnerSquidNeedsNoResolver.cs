using Tunnel.EndToEnd.Support;
using Tunnel.EndToEnd.Support.Wire;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Concealment;

/// <summary>Why the inner Squid's configuration points its resolver at loopback (dns_nameservers 127.0.0.1, see
/// <see cref="SquidConfig.Inner"/>): left on the system resolver, Squid 5 looks up every destination it forwards, even
/// through a parent with never_direct (its netdb "ping site" lookup after connecting, compiled into Debian's Squid and
/// not switched off by pinger_enable off), and the site's DNS query names the target in clear, past the firewall
/// the tunnel was meant to blind. This test shows the leak with the stock setting, so that the line stays until a
/// Squid without the lookup makes it fail.</summary>
[Trait("Category", "EndToEnd")]
public sealed class InnerSquidNeedsNoResolver(ITestOutputHelper output)
{
    [Fact(Timeout = 120_000)]
    public async Task With_the_system_resolver_the_inner_squid_sends_the_target_name_to_dns_past_the_firewall()
    {
        // Guards the deployment recipe rather than the binaries: the concealment tests run the inner Squid with
        // loopback DNS, and this one proves that setting is what keeps the target's name off the wire.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(110));
        await using var scene = await FirewalledChain.StartAsync("squiddns", ["--sni", "cover.example.net"], output, deadline.Token,
            innerSquidUsesSystemResolver: true);
        await scene.Target.PublishFileAsync("index.html", 4096, seed: 74, deadline.Token);

        var https = await scene.CurlAsync(deadline.Token, scene.Target.HttpsUrl("index.html"));
        Assert.True(https.ExitCode == 0 && https.HttpCode == 200, https.ToString());

        var (siteFacing, _) = await scene.StopCapturesAsync(deadline.Token);
        var dns = siteFacing.IpFrames.Where(f => f.Protocols.Contains(":dns", StringComparison.Ordinal)).ToList();
        Assert.True(dns.Count > 0, $"the inner Squid made no DNS query: the dns_nameservers line may no longer be needed\n{siteFacing.DescribeFlows()}");
        Assert.Contains(siteFacing.WhereTextAppears("secret-target-7f3a"), place => place.Contains("dns.qry.name", StringComparison.Ordinal) ||
            place.Contains("Name: secret-target-7f3a.example", StringComparison.Ordinal));
    }
}
