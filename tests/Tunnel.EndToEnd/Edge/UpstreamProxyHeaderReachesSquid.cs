using System.Net;
using System.Text;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Edge;

/// <summary>A load balancer's PROXY header in front of tunnel-server, and tunnel-server's own PROXY header to a real
/// Squid that requires one (<c>http_port ... require-proxy-header</c>): the client address the balancer saw is the one
/// Squid logs, through TLS and the tunnel.</summary>
[Trait("Category", "EndToEnd")]
public sealed class UpstreamProxyHeaderReachesSquid(ITestOutputHelper output)
{
    [Theory(Timeout = 120_000)]
    [InlineData("v1")]
    [InlineData("v2")]
    public async Task The_balancer_s_client_address_is_the_one_squid_logs(string upstreamVersion)
    {
        // Guards the promise that an upstream proxy behind tunnel-server can log and filter by the real client
        // address: a header Squid rejects, one written after the client's bytes, or the wrong address in it.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("proxy-header-" + upstreamVersion);
        using var pki = new TestPki("E2E PROXY CA");
        await using var target = await NginxTarget.StartAsync(sandbox, output, deadline.Token);
        var expected = await target.PublishFileAsync("via-proxy-header.bin", 256 * 1024, seed: 31, deadline.Token);
        var hosts = sandbox.WriteText("outer-hosts", $"127.0.0.1 {NginxTarget.HostName}\n");
        // Squid applies its rules to the header's address: without this rule, 198.51.100.7 would get a 403 (only
        // localhost is allowed by default), which is how an operator filters by real client address.
        string[] policy = [.. SquidConfig.Outer(hosts), "acl balancer_clients src 198.51.100.0/24", "http_access allow balancer_clients"];
        await using var squid = await SquidProcess.StartAsync(sandbox, "outer", policy, output, deadline.Token, requireProxyHeader: true);
        await using var server = await TunnelProcess.StartServerAsync(binaries, squid.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token, "--proxy-protocol", "v1", "--upstream-proxy-protocol", upstreamVersion);
        var client = pki.IssueClient(ProxyChain.ClientName);

        // What HAProxy's send-proxy writes for a client at 198.51.100.7 reaching its front end at 203.0.113.1:443.
        var header = Encoding.ASCII.GetBytes("PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\r\n");
        await using var tls = await TlsTestClient.ConnectAsync(IPEndPoint.Parse(server.Address), pki.Root, client, ProxyChain.ServerName,
            preamble: header, cancellationToken: deadline.Token);
        var url = target.HttpUrl("via-proxy-header.bin");
        await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET {url} HTTP/1.1\r\nHost: {NginxTarget.HostName}:{target.HttpPort}\r\nConnection: close\r\n\r\n"),
            deadline.Token);
        var response = new MemoryStream();
        await tls.CopyToAsync(response, deadline.Token);
        await tls.ShutdownAsync();
        var (head, body) = Split(response.ToArray());

        Assert.StartsWith("HTTP/1.1 200 OK", head);
        using (var bodyStream = new MemoryStream(body))
        {
            Assert.Equal(expected, (await Payload.ReceiveAsync(bodyStream, deadline.Token)).Sha256);
        }

        var logged = await squid.WaitForAccessLogAsync(l => l.Contains($"GET {url}", StringComparison.Ordinal), "the GET in Squid's access.log", deadline.Token);
        Assert.Contains(" 198.51.100.7 TCP_MISS/200 ", logged);
        var closed = await server.WaitForEventAsync(e => e.EventName == "ConnectionClosed", "tunnel-server's close line", deadline.Token);
        Assert.Equal("198.51.100.7:40001", closed["Peer"]);
        Assert.Equal("CN=" + ProxyChain.ClientName, closed["PeerIdentity"]);
        Assert.Equal("done", closed["Reason"]);
    }

    private static (string Head, byte[] Body) Split(byte[] response)
    {
        var end = response.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(end > 0, "no HTTP head in the response");
        return (Encoding.ASCII.GetString(response, 0, end), response[(end + 4)..]);
    }
}
