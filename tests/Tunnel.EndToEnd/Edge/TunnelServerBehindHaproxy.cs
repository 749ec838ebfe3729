using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Edge;

/// <summary>tunnel-server behind a real HAProxy sending PROXY protocol v2: tunnel-client's connections pass through
/// the balancer, the server reads the header HAProxy writes, logs the client's address instead of the balancer's,
/// and takes HAProxy's LOCAL health checks without a warning.</summary>
[Trait("Category", "EndToEnd")]
public sealed class TunnelServerBehindHaproxy(ITestOutputHelper output)
{
    private const long Size = 1024 * 1024;

    [Fact(Timeout = 120_000)]
    public async Task The_server_logs_the_client_haproxy_saw_and_accepts_its_health_checks()
    {
        // Guards interoperability with the most common L4 balancer's binary header (and its TLVs and LOCAL
        // checks), which hand-written headers in the in-process tests cannot prove.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("haproxy");
        using var pki = new TestPki("E2E Balancer CA");
        var received = new TaskCompletionSource<(string Sha256, long Length)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TcpTestServer(Payload.DuplexUpstream(Size, seed: 42, received));
        await using var server = await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token, "--proxy-protocol", "v2", "--log-level", "debug");
        await using var haproxy = await HaproxyProcess.StartAsync(sandbox, server.Address, output, deadline.Token);
        await using var client = await TunnelProcess.StartClientAsync(binaries, haproxy.Address, ProxyChain.ServerName, pki.IssueClient(ProxyChain.ClientName),
            pki.CaPath, output, deadline.Token);

        var down = await DuplexTransfer.RunAsync(client.Port, Size, seed: 41, deadline.Token);
        Assert.Equal((Payload.Expected(Size, 41), Size), await received.Task.WaitAsync(deadline.Token));
        Assert.Equal((Payload.Expected(Size, 42), Size), down);

        // The header names HAProxy's front end as the destination and tunnel-client's own address as the source;
        // the TCP peer tunnel-server sees is HAProxy's outgoing connection, a different port.
        var closed = await server.WaitForEventAsync(e => e.EventName == "ConnectionClosed" && e["Reason"] == "done", "tunnel-server's close line",
            deadline.Token);
        Assert.Equal("CN=" + ProxyChain.ClientName, closed["PeerIdentity"]);
        var header = Assert.Single(server.Events, e => e.EventName == "ProxyHeaderReceived" && e["ConnectionId"] == closed["ConnectionId"]);
        Assert.Equal("v2", header["Version"]);
        Assert.Equal(haproxy.Address, header["Destination"]);
        Assert.Equal(closed["Peer"], header["Peer"]);
        Assert.StartsWith("127.0.0.1:", header["Peer"]);
        Assert.NotEqual(header["Via"], header["Peer"]);

        // HAProxy's checks (every 500 ms) arrive as LOCAL headers followed by a close: routine (debug), never a warning.
        var check = await server.WaitForEventAsync(e => e.EventName == "ProxyHeaderWithoutAddress" && e["Kind"]!.StartsWith("LOCAL", StringComparison.Ordinal),
            "a health check's LOCAL header", deadline.Token);
        var checkClosed = await server.WaitForEventAsync(e => e["ConnectionId"] == check["ConnectionId"] && e.EventName is "ConnectionClosed" or "ConnectionClosedQuiet",
            "the health check's close line", deadline.Token);
        Assert.Equal("ConnectionClosedQuiet", checkClosed.EventName);
        Assert.DoesNotContain(server.Events, e => e.EventName is "ProxyHeaderInvalid" or "HandshakeFailed");
    }
}
