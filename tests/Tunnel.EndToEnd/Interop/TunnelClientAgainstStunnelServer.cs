using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Interop;

/// <summary>tunnel-client against stunnel4 as the server (requireCert, verifyChain, our server certificate): a
/// tunnel-client site can use an existing stunnel endpoint.</summary>
[Trait("Category", "EndToEnd")]
public sealed class TunnelClientAgainstStunnelServer(ITestOutputHelper output)
{
    private const long Size = 8 * 1024 * 1024;

    [Fact(Timeout = 120_000)]
    public async Task Tunnel_client_carries_megabytes_both_ways_through_stunnel_server()
    {
        // Guards the other direction of stunnel interoperability: tunnel-client's verification of a server
        // certificate served by OpenSSL through stunnel, its client certificate passing stunnel's requireCert and
        // verifyChain, and both directions arriving complete across stunnel's close_notify handling.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("stunnel-server");
        using var pki = new TestPki("E2E Interop CA");
        var received = new TaskCompletionSource<(string Sha256, long Length)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TcpTestServer(Payload.DuplexUpstream(Size, seed: 82, received));
        var (cert, key) = pki.IssueServer(ProxyChain.ServerName);
        await using var stunnel = await StunnelProcess.StartAsync(sandbox, "e2e-server", upstream.Address,
        [
            $"cert = {cert}",
            $"key = {key}",
            $"CAfile = {pki.CaPath}",
            "requireCert = yes",
            "verifyChain = yes",
        ], output, deadline.Token);
        // stunnel dials its upstream as soon as it accepts, so a warm pool's idle connections and health probes would
        // each open one: with a stunnel server both are off (docs/configuration.md, poolSize and healthCheckInterval).
        await using var client = await TunnelProcess.StartClientAsync(binaries, stunnel.Address, ProxyChain.ServerName,
            pki.IssueClient("tunnel-site"), pki.CaPath, output, deadline.Token, "--pool-size", "0", "--health-check-interval", "0");

        // stunnel 5.68 takes a POLLHUP on its upstream socket as the end of both directions: once the upload's
        // close_notify made it shut down its write side, the upstream's FIN after the download ends it while it has
        // not yet read the download's tail (seen here: 7,309,312 of 8,388,608 bytes reached TLS). A stunnel client
        // sends the same close_notify, so this is stunnel's half-close, not tunnel-client's: the upload ends last.
        var down = await DuplexTransfer.RunAsync(client.Port, Size, seed: 81, deadline.Token, halfCloseLast: true);
        var up = await received.Task.WaitAsync(deadline.Token);

        Assert.Equal((Payload.Expected(Size, 81), Size), up);
        Assert.Equal((Payload.Expected(Size, 82), Size), down);
        var closed = await client.WaitForEventAsync(e => e.EventName == "ConnectionClosed" && e["PeerIdentity"] == $"CN={ProxyChain.ServerName}",
            "tunnel-client's close line for the stunnel server", deadline.Token);
        Assert.Equal("done", closed["Reason"]);
        Assert.Contains("Certificate accepted at depth=0: CN=tunnel-site", stunnel.Process.Stderr + string.Join('\n', Poll.ReadLines(sandbox.Path("e2e-server.log"))));
    }
}
