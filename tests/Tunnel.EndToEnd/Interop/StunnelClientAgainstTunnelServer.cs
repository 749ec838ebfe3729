using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Interop;

/// <summary>stunnel4 as the client (client = yes, verifyChain, checkHost, our client certificate) against
/// tunnel-server: the wire format is plain TLS, so existing stunnel sites can join a tunnel-server fleet.</summary>
[Trait("Category", "EndToEnd")]
public sealed class StunnelClientAgainstTunnelServer(ITestOutputHelper output)
{
    private const long Size = 8 * 1024 * 1024;

    [Fact(Timeout = 120_000)]
    public async Task Stunnel_client_carries_megabytes_both_ways_through_tunnel_server()
    {
        // Guards the stunnel interoperability promised by the design (mixed fleets, gradual migration): a TLS or
        // framing change in tunnel-server that stunnel cannot speak, a client-certificate check stunnel's
        // certificate fails, or half-close/close_notify handling that truncates one direction.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("stunnel-client");
        using var pki = new TestPki("E2E Interop CA");
        var received = new TaskCompletionSource<(string Sha256, long Length)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TcpTestServer(Payload.DuplexUpstream(Size, seed: 72, received));
        await using var server = await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName),
            pki.CaPath, output, deadline.Token);
        var (cert, key) = pki.IssueClient("stunnel-site");
        await using var stunnel = await StunnelProcess.StartAsync(sandbox, "e2e-client", server.Address,
        [
            "client = yes",
            $"cert = {cert}",
            $"key = {key}",
            $"CAfile = {pki.CaPath}",
            "verifyChain = yes",
            $"checkHost = {ProxyChain.ServerName}",
            $"sni = {ProxyChain.ServerName}",
        ], output, deadline.Token);

        var down = await DuplexTransfer.RunAsync(stunnel.Port, Size, seed: 71, deadline.Token);
        var up = await received.Task.WaitAsync(deadline.Token);

        Assert.Equal((Payload.Expected(Size, 71), Size), up);
        Assert.Equal((Payload.Expected(Size, 72), Size), down);
        var closed = await server.WaitForEventAsync(e => e.EventName == "ConnectionClosed" && e["PeerIdentity"] == "CN=stunnel-site",
            "tunnel-server's close line for the stunnel client", deadline.Token);
        Assert.Equal("done", closed["Reason"]);
    }
}
