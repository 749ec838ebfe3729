using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Tunnel.Admin;
using Tunnel.Metrics;
using Tunnel.Net;

namespace Tunnel.Tests.Admin;

/// <summary>The admin endpoint's own HTTP/1.1: what it reads of a request head, and how it answers, keeps alive,
/// bounds and closes connections, driven over a raw socket so every byte on the wire is checked.</summary>
public sealed class AdminHttpTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private AdminServer _server = null!;

    // Kept-alive connections that wait for their next head must outlast a slow test machine (the 503 test holds 16 of
    // them while it opens the 17th); the one test of the head timeout starts a server of its own with a short one.
    public async Task InitializeAsync() => _server = await StartServerAsync(TimeSpan.FromSeconds(30));

    private static Task<AdminServer> StartServerAsync(TimeSpan requestTimeout)
    {
        var metrics = new MetricsRegistry();
        metrics.Counter("test_requests_total", "A counter for the test.").WithLabels().Increment();
        return AdminServer.StartAsync(HostPort.Parse("127.0.0.1:0"), () => false, [], metrics, NullLoggerFactory.Instance, TimeProvider.System,
            CancellationToken.None, new AdminServerLimits(requestTimeout));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/metrics", true)]
    [InlineData("GET /metrics?name[]=up HTTP/1.1\r\n\r\n", "GET", "/metrics", true)]
    [InlineData("GET http://10.0.0.1:9090/readyz HTTP/1.1\r\n\r\n", "GET", "/readyz", true)]
    [InlineData("HEAD /healthz HTTP/1.1\nConnection: keep-alive, Close\n\n", "HEAD", "/healthz", false)]
    [InlineData("GET /readyz HTTP/1.0\r\n\r\n", "GET", "/readyz", false)]
    [InlineData("POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "POST", "/metrics", false)]
    [InlineData("GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", "/metrics", false)]
    public void A_head_is_read_for_method_path_and_whether_the_connection_stays_open(string head, string method, string path, bool keepAlive)
    {
        var bytes = Encoding.ASCII.GetBytes(head);

        Assert.Equal(bytes.Length, AdminRequest.HeadLength(bytes));
        Assert.Equal(new AdminRequest(method, path, keepAlive, 0), AdminRequest.Parse(bytes));
    }

    [Theory]
    [InlineData("GET /metrics HTTP/1.1\r\n")]
    [InlineData("GET /metrics HTTP/1.1\r\nHost: x\r\n\r")]
    [InlineData("GET /metr")]
    [InlineData("")]
    public void An_incomplete_head_has_no_length_yet(string head) =>
        Assert.Equal(-1, AdminRequest.HeadLength(Encoding.ASCII.GetBytes(head)));

    [Theory]
    [InlineData("GET /metrics\r\n\r\n", 400)]
    [InlineData("GET  /metrics HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET metrics HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET /metrics SPDY/3\r\n\r\n", 400)]
    [InlineData("GET /metrics HTTP/2.0\r\n\r\n", 505)]
    [InlineData("GET /metrics HTTP/1.1\r\nHost x\r\n\r\n", 400)]
    [InlineData("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", 400)]
    [InlineData("GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400)]
    [InlineData("GET /m\u00e9trics HTTP/1.1\r\n\r\n", 400)]
    public void A_head_it_cannot_serve_gets_the_status_to_answer(string head, int status) =>
        Assert.Equal(status, AdminRequest.Parse(Encoding.Latin1.GetBytes(head)).Error);

    [Fact(Timeout = 30_000)]
    public async Task Requests_on_one_connection_are_answered_in_order_including_pipelined_ones()
    {
        using var socket = await ConnectAsync();
        await SendAsync(socket, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
        var first = await ReadResponseAsync(socket);
        await SendAsync(socket, "HEAD /metrics HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\nGET /nowhere HTTP/1.1\r\n\r\n");
        var head = await ReadResponseAsync(socket, headOnly: true);
        var metrics = await ReadResponseAsync(socket);
        var missing = await ReadResponseAsync(socket);

        Assert.Equal(200, first.Status);
        Assert.Equal("ok\n", first.Body);
        Assert.Equal(200, head.Status);
        Assert.Equal("", head.Body);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.Headers["content-type"]);
        Assert.Contains("test_requests_total 1", metrics.Body);
        Assert.Equal(head.Headers["content-length"], metrics.Headers["content-length"]);
        Assert.Equal(404, missing.Status);
        Assert.Contains("/healthz, /readyz and /metrics", missing.Body);
        Assert.False(metrics.Headers.ContainsKey("connection"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Readyz_answers_json_and_other_methods_are_refused_with_allow()
    {
        using var socket = await ConnectAsync();
        await SendAsync(socket, "GET /readyz HTTP/1.1\r\n\r\nDELETE /metrics HTTP/1.1\r\n\r\n");
        var ready = await ReadResponseAsync(socket);
        var refused = await ReadResponseAsync(socket);

        Assert.Equal(200, ready.Status);
        Assert.Equal("application/json; charset=utf-8", ready.Headers["content-type"]);
        Assert.Contains("\"status\": \"ready\"", ready.Body);
        Assert.Equal(405, refused.Status);
        Assert.Equal("GET, HEAD", refused.Headers["allow"]);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", 200)]
    [InlineData("GET /healthz HTTP/1.0\r\n\r\n", 200)]
    [InlineData("\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\r\n\r\n", 400)]
    [InlineData("GET /healthz HTTP/3\r\n\r\n", 505)]
    public async Task A_closing_or_bad_request_is_answered_then_the_connection_closes(string request, int status)
    {
        using var socket = await ConnectAsync();
        await socket.SendAsync(Encoding.Latin1.GetBytes(request), SocketFlags.None);
        var response = await ReadResponseAsync(socket);

        Assert.Equal(status, response.Status);
        Assert.Equal("close", response.Headers["connection"]);
        Assert.Equal(0, await ReceiveAsync(socket));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_head_over_the_limit_is_answered_431_and_closed()
    {
        using var socket = await ConnectAsync();
        await SendAsync(socket, "GET /metrics HTTP/1.1\r\nX-Padding: " + new string('a', AdminRequest.MaxHeadBytes));
        var response = await ReadResponseAsync(socket);

        Assert.Equal(431, response.Status);
        Assert.Equal(0, await ReceiveAsync(socket));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_client_that_does_not_finish_its_head_in_time_is_closed()
    {
        await using var server = await StartServerAsync(TimeSpan.FromMilliseconds(500));
        using var socket = await ConnectAsync(server);
        await SendAsync(socket, "GET /metrics HTTP/1.1\r\nHost: slow");

        // The server's limit is 500 ms here; Wait only bounds the test.
        Assert.Equal(0, await ReceiveAsync(socket));
    }

    [Fact(Timeout = 30_000)]
    public async Task Connections_over_the_limit_are_answered_503_and_the_held_ones_still_work()
    {
        var held = new List<Socket>();
        try
        {
            for (var i = 0; i < AdminServer.MaxConnections; i++)
            {
                var socket = await ConnectAsync();
                held.Add(socket);
                // One answered request each proves the connection is being served (not waiting in the backlog).
                await SendAsync(socket, "GET /healthz HTTP/1.1\r\n\r\n");
                Assert.Equal(200, (await ReadResponseAsync(socket)).Status);
            }

            using var extra = await ConnectAsync();
            var refused = await ReadResponseAsync(extra);
            Assert.Equal(503, refused.Status);
            Assert.Contains($"at most {AdminServer.MaxConnections}", refused.Body);

            await SendAsync(held[0], "GET /healthz HTTP/1.1\r\n\r\n");
            Assert.Equal(200, (await ReadResponseAsync(held[0])).Status);
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Disposing_the_server_closes_kept_alive_connections()
    {
        using var socket = await ConnectAsync();
        await SendAsync(socket, "GET /healthz HTTP/1.1\r\n\r\n");
        Assert.Equal(200, (await ReadResponseAsync(socket)).Status);

        await _server.DisposeAsync();

        Assert.Equal(0, await ReceiveAsync(socket));
    }

    private Task<Socket> ConnectAsync() => ConnectAsync(_server);

    private static async Task<Socket> ConnectAsync(AdminServer server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.EndPoint.Port)).WaitAsync(Wait);
        return socket;
    }

    private static Task<int> SendAsync(Socket socket, string text) =>
        socket.SendAsync(Encoding.ASCII.GetBytes(text).AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait);

    /// <summary>Bytes of one receive (0 at end of stream); a reset counts as the end too.</summary>
    private static async Task<int> ReceiveAsync(Socket socket)
    {
        try
        {
            return await socket.ReceiveAsync(new byte[64].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return 0;
        }
    }

    private sealed record Response(int Status, Dictionary<string, string> Headers, string Body);

    /// <summary>Reads one response byte by byte (so the next one stays in the socket): head, then Content-Length bytes
    /// of body unless <paramref name="headOnly"/>.</summary>
    private static async Task<Response> ReadResponseAsync(Socket socket, bool headOnly = false)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await socket.ReceiveAsync(one.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait) == 0)
            {
                throw new InvalidOperationException($"the connection closed within a response head: {head}");
            }

            head.Append((char)one[0]);
        }

        var lines = head.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].ToLowerInvariant(), p => p[1].Trim());
        var body = new byte[headOnly ? 0 : int.Parse(headers["content-length"], System.Globalization.CultureInfo.InvariantCulture)];
        for (var read = 0; read < body.Length;)
        {
            var n = await socket.ReceiveAsync(body.AsMemory(read), SocketFlags.None).AsTask().WaitAsync(Wait);
            read += n > 0 ? n : throw new InvalidOperationException("the connection closed within a response body");
        }

        return new Response(status, headers, Encoding.UTF8.GetString(body));
    }
}
