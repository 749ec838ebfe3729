using Tunnel.EndToEnd.Support;
using Tunnel.EndToEnd.Support.Wire;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Concealment;

/// <summary>With the SNI configured empty and no ALPN (stunnel's default), the ClientHello on the firewall carries
/// neither extension: tunnel-client still verifies the server's certificate against its configured name, but the
/// firewall learns no name at all, only the server's address.</summary>
[Trait("Category", "EndToEnd")]
public sealed class ClientHelloNamesNothingWithoutSni(ITestOutputHelper output)
{
    [Fact(Timeout = 120_000)]
    public async Task With_an_empty_sni_and_no_alpn_the_client_hello_has_no_server_name_or_alpn_extension()
    {
        // Guards against an empty SNI falling back to the verified name (or the server's address) on the wire, against
        // an ALPN extension appearing that nobody configured, and against the verification depending on the SNI.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(110));
        await using var scene = await FirewalledChain.StartAsync("nosni", ["--sni", ""], output, deadline.Token);
        var expected = await scene.Target.PublishFileAsync("page.bin", 64 * 1024, seed: 72, deadline.Token);

        var https = await scene.CurlAsync(deadline.Token, scene.Target.HttpsUrl("page.bin"));
        Assert.True(https.ExitCode == 0 && https.HttpConnect == 200 && https.HttpCode == 200, https.ToString());
        Assert.Equal(expected, await NginxTarget.Sha256OfFileAsync(https.BodyPath, deadline.Token));
        await scene.Chain.Client.WaitForEventAsync(e => e.EventName == "ConnectionOpened" && e["PeerIdentity"] == $"CN={FirewalledChain.ServerName}",
            "tunnel-client's open line naming the server it verified", deadline.Token);

        var (siteFacing, cloudFacing) = await scene.StopCapturesAsync(deadline.Token);
        output.WriteLine(cloudFacing.DescribeRecordLengths());
        foreach (var view in new[] { siteFacing, cloudFacing })
        {
            FirewallAssert.OnlyTunnelConnections(view, scene.Network);
            FirewallAssert.OnlyTls13(view);
            Assert.All(view.ClientHellos, hello =>
            {
                Assert.DoesNotContain(ClientHelloSeen.ServerNameExtension, hello.ExtensionTypes);
                Assert.DoesNotContain(ClientHelloSeen.AlpnExtension, hello.ExtensionTypes);
                Assert.True(hello.ServerName == "" && hello.Alpn == "", hello.ToString());
            });
            Assert.DoesNotContain("Extension: server_name", view.Verbose, StringComparison.Ordinal);
            Assert.DoesNotContain("Extension: application_layer_protocol_negotiation", view.Verbose, StringComparison.Ordinal);

            FirewallAssert.NeverShows(view, "secret-target-7f3a");
            FirewallAssert.NeverShows(view, FirewalledChain.ServerName);
            FirewallAssert.NeverShows(view, ProxyChain.ClientName);
        }
    }
}
