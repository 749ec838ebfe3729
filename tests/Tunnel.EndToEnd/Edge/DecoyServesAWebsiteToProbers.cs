using System.Net.Sockets;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Edge;

/// <summary>An active prober, a browser or <c>curl -k</c> reaching tunnel-server's port without a client certificate
/// sees an ordinary website (nginx as the decoy, HTTP/1.1 chosen by ALPN), while tunnel-client on the same port still
/// gets its tunnel. Nothing the prober does reaches the upstream.</summary>
[Trait("Category", "EndToEnd")]
public sealed class DecoyServesAWebsiteToProbers(ITestOutputHelper output)
{
    private const string Page = "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>It works.</body></html>\n";

    [Fact(Timeout = 120_000)]
    public async Task Curl_without_a_certificate_gets_the_decoy_page_and_tunnel_client_gets_the_upstream_on_the_same_port()
    {
        // Guards the concealment promise of the threat model: a prober must get a website, not a TLS alert or a
        // reset that marks the port as a tunnel, and must never reach the upstream proxy.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("decoy");
        using var pki = new TestPki("E2E Decoy CA");
        await using var nginx = await NginxTarget.StartAsync(sandbox, output, deadline.Token);
        await File.WriteAllTextAsync(Path.Combine(nginx.WebRoot, "index.html"), Page, deadline.Token);
        var carried = 0;
        await using var upstream = new TcpTestServer(socket => EchoAsync(socket, () => Interlocked.Increment(ref carried)));
        await using var server = await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token, "--decoy", $"127.0.0.1:{nginx.HttpPort}", "--alpn", "http/1.1");
        await using var client = await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName, pki.IssueClient(ProxyChain.ClientName),
            pki.CaPath, output, deadline.Token);

        var probe = await Curl.RunAsync(sandbox, ["-k", "-v", $"https://127.0.0.1:{server.Port}/"], output, deadline.Token);

        Assert.True(probe.ExitCode == 0, probe.ToString());
        Assert.Equal(200, probe.HttpCode);
        Assert.Equal(Page, probe.Body);
        Assert.Contains("ALPN: server accepted http/1.1", probe.Stderr);
        Assert.Contains("Server: nginx", probe.Headers);
        var served = await server.WaitForEventAsync(e => e.EventName == "DecoyServed", "tunnel-server's decoy line", deadline.Token);
        Assert.Contains("presented no certificate", served["Refusal"]);
        var decoyClosed = await server.WaitForEventAsync(e => e.EventName == "ConnectionClosed" && e["Reason"] == "decoy", "the decoy connection's close line",
            deadline.Token);
        Assert.Equal($"127.0.0.1:{nginx.HttpPort}", decoyClosed["Upstream"]);
        // tunnel-server's TCP health checks connect to the upstream too; no connection carrying bytes arrived.
        Assert.Equal(0, Volatile.Read(ref carried));

        // The real client, same port: the tunnel.
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(System.Net.IPEndPoint.Parse(client.Address), deadline.Token);
            await socket.SendAsync("tunnelled"u8.ToArray(), SocketFlags.None, deadline.Token);
            socket.Shutdown(SocketShutdown.Send);
            var echoed = new MemoryStream();
            var buffer = new byte[64];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0)
            {
                echoed.Write(buffer, 0, read);
            }

            Assert.Equal("tunnelled", System.Text.Encoding.ASCII.GetString(echoed.ToArray()));
        }

        var tunnelled = await server.WaitForEventAsync(e => e.EventName == "ConnectionClosed" && e["Reason"] == "done", "the tunnel's close line",
            deadline.Token);
        Assert.Equal("CN=" + ProxyChain.ClientName, tunnelled["PeerIdentity"]);
        Assert.Equal(1, Volatile.Read(ref carried));
    }

    /// <summary>Echoes, calling <paramref name="carried"/> once when the first bytes arrive.</summary>
    private static async Task EchoAsync(Socket socket, Action carried)
    {
        var buffer = new byte[16 * 1024];
        int read;
        var first = true;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            if (first)
            {
                carried();
                first = false;
            }

            await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
        }

        socket.Shutdown(SocketShutdown.Send);
    }
}
