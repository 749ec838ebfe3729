using System.Net.Sockets;
using System.Text;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>With upstreamProxyProtocol, the upstream proxy receives a PROXY header carrying the real client address
/// first on the connection, before any byte of the client's, so it can log and apply its policy to that address.</summary>
public sealed class ProxyProtocolOutTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Theory(Timeout = 60_000)]
    [InlineData("v1", "50524F58592054435034203139382E35312E3130302E37203230332E302E3131332E31203430303031203434330D0A")]
    [InlineData("v2", "0D0A0D0A000D0A515549540A" + "21" + "11" + "000C" + "C6336407" + "CB007101" + "9C41" + "01BB")]
    public async Task The_upstream_sees_the_header_of_the_balancer_s_client_before_the_client_s_bytes(string version, string expectedHeader)
    {
        // "PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\r\n" arrives from the balancer; the same addresses go on.
        var received = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TcpTestServer(socket => ReceiveAllAsync(socket, received));
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["proxyProtocol"] = "v1";
            s["upstreamProxyProtocol"] = version;
        }, withClient: false);

        await using (var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, tunnel.ClientCertificate,
            preamble: Encoding.ASCII.GetBytes("PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\r\n")))
        {
            await tls.WriteAsync("GET http://example.test/ HTTP/1.1\r\n\r\n"u8.ToArray());
            await tls.ShutdownAsync();
            // This upstream reads and closes without answering: the request gets tunnel-server's 502 saying so.
            using var answer = new MemoryStream();
            await tls.CopyToAsync(answer).WaitAsync(Wait);
            var text = Encoding.ASCII.GetString(answer.ToArray());
            Assert.StartsWith("HTTP/1.1 502 Bad Gateway\r\n", text);
            Assert.Contains($"upstream proxy {upstream.Address} closed the connection without answering", text);
        }

        var bytes = await received.Task.WaitAsync(Wait);
        Assert.Equal(expectedHeader + Convert.ToHexString("GET http://example.test/ HTTP/1.1\r\n\r\n"u8), Convert.ToHexString(bytes));
    }

    [Fact(Timeout = 60_000)]
    public async Task Without_a_balancer_the_header_carries_the_client_s_own_connection()
    {
        var received = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TcpTestServer(socket => ReceiveAllAsync(socket, received));
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["upstreamProxyProtocol"] = "v1");

        using (var socket = await tunnel.ConnectClientAsync())
        {
            await socket.SendAsync("hello"u8.ToArray(), SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, await socket.ReceiveAsync(new byte[1].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
        }

        // The server's client is tunnel-client: its outgoing address, and the server's listening address.
        var open = await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains(" open: "), Wait);
        var clientPort = ((string)open["Peer"]!).Split(':')[^1];
        var expected = $"PROXY TCP4 127.0.0.1 127.0.0.1 {clientPort} {tunnel.ServerEndPoint.Port}\r\nhello";
        Assert.Equal(expected, Encoding.ASCII.GetString(await received.Task.WaitAsync(Wait)));
    }

    [Fact(Timeout = 60_000)]
    public async Task Health_checks_send_a_LOCAL_header_so_the_upstream_does_not_take_them_for_clients()
    {
        var received = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TcpTestServer(socket => ReceiveAllAsync(socket, received));
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["upstreamProxyProtocol"] = "v2";
            s["upstreamHealthCheckInterval"] = "200ms";
        }, withClient: false);

        Assert.Equal("0D0A0D0A000D0A515549540A" + "20" + "00" + "0000", Convert.ToHexString(await received.Task.WaitAsync(Wait)));
    }

    private static async Task ReceiveAllAsync(Socket socket, TaskCompletionSource<byte[]> received)
    {
        var all = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            all.Write(buffer, 0, read);
        }

        received.TrySetResult(all.ToArray());
        socket.Shutdown(SocketShutdown.Send);
    }

    public void Dispose() => _pki.Dispose();
}
