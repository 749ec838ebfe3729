using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tunnel.Common;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>A local process that opens many silent connections to tunnel-client cannot starve Squid: connections
/// over <c>maxConnectionsPerSource</c> are closed at accept, silent ones are closed after <c>firstByteTimeout</c>,
/// and reaching <c>maxConnections</c> is logged (throttled) and counted on both daemons.</summary>
public sealed class ClientAvailabilityTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private const int PayloadLength = 256 * 1024;
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 90_000)]
    public async Task Silent_connections_from_one_source_do_not_keep_a_legitimate_request_from_being_served()
    {
        const int silent = 300;
        const int perSource = 10;
        var served = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TcpTestServer(socket => AnswerAsync(socket, served));

        // maxConnections 40 < 300: without the per-source limit the silent connections would hold every slot, and the
        // legitimate connection would wait in the backlog for firstByteTimeout (set long here, so that only the
        // per-source limit can make room).
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c =>
        {
            c["maxConnections"] = "40";
            c["maxConnectionsPerSource"] = $"{perSource}";
            c["firstByteTimeout"] = "60s";
        });

        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < silent; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
                try
                {
                    await socket.ConnectAsync(tunnel.ClientEndPoint).WaitAsync(Wait);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                {
                    // Refused so fast that the reset overtook the connect's completion: one of the expected refusals.
                }
            }

            var series = tunnel.Client!.Metrics.For("default");
            await Poll.UntilAsync(() => Task.FromResult((series.LimitRejected("source").Value >= silent - perSource, series.LimitRejected("source").Value)),
                Wait, "refusal of every silent connection over the per-source limit");
            Assert.Equal(silent - perSource, series.LimitRejected("source").Value);
            Assert.Equal(silent - perSource, series.Accepted(AcceptOutcome.Limited).Value);

            // The legitimate request from another address is served at once, every byte intact.
            var watch = Stopwatch.StartNew();
            using var legit = await tunnel.ConnectClientAsync();
            await using var stream = new NetworkStream(legit);
            await stream.WriteAsync("GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n"u8.ToArray());
            var (sha256, length) = await Payload.ReceiveAsync(stream).WaitAsync(Wait);
            watch.Stop();
            Assert.Equal(PayloadLength, length);
            Assert.Equal(await served.Task.WaitAsync(Wait), sha256);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"served after {watch.Elapsed.TotalSeconds:0.0} s");

            var warning = await _logs.WaitForAsync(l => l.EventId.Name == "LimitReached", Wait);
            Assert.Contains($"127.0.0.2 already has {perSource} connections (maxConnectionsPerSource {perSource})", warning.Message);

            // One warning per burst (10 s): the rest at Debug.
            await _logs.WaitForCountAsync(l => l.EventId.Name is "LimitReached" or "LimitRefused", silent - perSource, Wait);
            var warnings = _logs.Count(l => l.EventId.Name == "LimitReached");
            Assert.InRange(warnings, 1, 3);
            Assert.Equal(silent - perSource - warnings, _logs.Count(l => l.EventId.Name == "LimitRefused" && l.Level == LogLevel.Debug));
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    [Fact(Timeout = 90_000)]
    public async Task Silent_connections_are_closed_after_the_first_byte_timeout_and_logged_once_per_burst()
    {
        const int silent = 50;
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c => c["firstByteTimeout"] = "1s");

        var started = Stopwatch.StartNew();
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < silent; i++)
            {
                sockets.Add(await tunnel.ConnectClientAsync());
            }

            // Each sees its connection end (reset) after the timeout, not before.
            var ends = await Task.WhenAll(sockets.Select(async s =>
            {
                try
                {
                    var read = await s.ReceiveAsync(new byte[1], SocketFlags.None).WaitAsync(Wait);
                    Assert.Equal(0, read);
                }
                catch (SocketException)
                {
                    // Reset: as expected.
                }

                return started.Elapsed;
            }));
            Assert.All(ends, e => Assert.True(e >= TimeSpan.FromMilliseconds(900), $"closed after {e.TotalMilliseconds:0} ms"));
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }

        await _logs.WaitForCountAsync(l => l.Message.Contains("reason=first-byte-timeout", StringComparison.Ordinal), silent, Wait);
        Assert.Equal(silent, _logs.Count(l => l.Message.Contains("reason=first-byte-timeout", StringComparison.Ordinal) && l.Level == LogLevel.Debug));
        var warning = Assert.Single(_logs.Lines, l => l.EventId.Name == "FirstByteTimeout");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("sent nothing within 1s (firstByteTimeout)", warning.Message);
        Assert.Equal(silent, tunnel.Client!.Metrics.For("default").ClosedBy(CloseOutcome.FirstByteTimeout).Value);
        Assert.Equal(0, upstream.Accepted);

        // A connection that speaks still goes through.
        using var socketOk = await tunnel.ConnectClientAsync();
        await using var stream = new NetworkStream(socketOk);
        await stream.WriteAsync("ping"u8.ToArray());
        var echo = new byte[4];
        await stream.ReadExactlyAsync(echo).AsTask().WaitAsync(Wait);
        Assert.Equal("ping"u8.ToArray(), echo);
    }

    [Fact(Timeout = 90_000)]
    public async Task Reaching_maxConnections_is_logged_and_counted_on_both_daemons()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address,
            server: s => s["maxConnections"] = "2",
            client: c =>
            {
                c["maxConnections"] = "2";
                c["firstByteTimeout"] = "60s";
            });

        // Client: two silent connections fill it; a third waits in the backlog until one closes.
        using var first = await tunnel.ConnectClientAsync();
        using var second = await tunnel.ConnectClientAsync();
        var clientSeries = tunnel.Client!.Metrics.For("default");
        await Poll.UntilAsync(() => Task.FromResult((clientSeries.MaxConnectionsReached.Value >= 1, clientSeries.MaxConnectionsReached.Value)), Wait,
            "tunnel_max_connections_reached_total on the client");
        var warning = await _logs.WaitForAsync(l => l.EventId.Name == "MaxConnectionsReached" && l.Category == "tunnel-client", Wait);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("the process is at maxConnections (2)", warning.Message);
        Assert.Contains("# TYPE tunnel_max_connections_reached_total counter", tunnel.Client.Metrics.Registry.Render());
        Assert.Matches("tunnel_max_connections_reached_total\\{tunnel=\"default\"\\} [1-9]", tunnel.Client.Metrics.Registry.Render());

        using var third = await tunnel.ConnectClientAsync();
        await using var thirdStream = new NetworkStream(third);
        await thirdStream.WriteAsync("ping"u8.ToArray());
        first.Dispose();
        var echo = new byte[4];
        await thirdStream.ReadExactlyAsync(echo).AsTask().WaitAsync(Wait);
        Assert.Equal("ping"u8.ToArray(), echo);

        // Server: two TLS connections fill it.
        await using var a = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, tunnel.ClientCertificate).WaitAsync(Wait);
        var serverSeries = tunnel.Server.Metrics.For("default");
        await Poll.UntilAsync(() => Task.FromResult((serverSeries.MaxConnectionsReached.Value >= 1, serverSeries.MaxConnectionsReached.Value)), Wait,
            "tunnel_max_connections_reached_total on the server");
        await _logs.WaitForAsync(l => l.EventId.Name == "MaxConnectionsReached" && l.Category == "tunnel-server", Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_reload_reports_maxConnections_only_when_its_configured_value_changed()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);

        // The derived default moves with the descriptors open at each read; open some to make sure it does.
        var held = Enumerable.Range(0, 20).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).ToList();
        try
        {
            Assert.True(tunnel.ReloadServer());
            Assert.True(tunnel.ReloadClient());
            Assert.DoesNotContain(_logs.Lines, l => l.EventId.Name == "ReloadNeedsRestart");

            Assert.True(tunnel.ReloadClient(c => c["maxConnections"] = "500"));
            var line = await _logs.WaitForAsync(l => l.EventId.Name == "ReloadNeedsRestart", Wait);
            Assert.Contains("maxConnections", line.Message);
            Assert.Equal("tunnel-client", line.Category);
            Assert.Equal(1, _logs.Count(l => l.EventId.Name == "ReloadNeedsRestart"));
        }
        finally
        {
            foreach (var socket in held)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Reads the request's first bytes, answers with <see cref="PayloadLength"/> pseudo-random bytes and
    /// ends the stream; the payload's SHA-256 goes to <paramref name="served"/>.</summary>
    private static async Task AnswerAsync(Socket socket, TaskCompletionSource<string> served)
    {
        await using var stream = new NetworkStream(socket);
        var buffer = new byte[1024];
        if (await stream.ReadAsync(buffer) == 0)
        {
            return;
        }

        served.TrySetResult(await Payload.SendAsync(stream, PayloadLength, seed: 19));
        socket.Shutdown(SocketShutdown.Send);
    }

    public void Dispose() => _pki.Dispose();
}
