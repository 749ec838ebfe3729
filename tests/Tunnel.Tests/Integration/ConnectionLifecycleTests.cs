using System.Net.Sockets;
using System.Text;
using Tunnel.Common;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>How connections end: resets propagate, every wait is bounded, shutdown drains.</summary>
public sealed class ConnectionLifecycleTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 60_000)]
    public async Task An_upstream_reset_resets_the_client_and_leaks_nothing()
    {
        await using var upstream = new TcpTestServer(async socket =>
        {
            var buffer = new byte[1024];
            await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
            await socket.SendAsync("partial"u8.ToArray(), SocketFlags.None);
            socket.LingerState = new LingerOption(true, 0);
            socket.Close(); // RST
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);
        using var socket = await tunnel.ConnectClientAsync();
        await socket.SendAsync("hello"u8.ToArray(), SocketFlags.None);

        var received = new MemoryStream();
        var error = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            var buffer = new byte[1024];
            int read;
            while ((read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        });
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        Assert.Equal("partial", Encoding.ASCII.GetString(received.ToArray()));

        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains("reason=upstream-error"), Wait);
        await _logs.WaitForAsync(l => l.Category == "tunnel-client" && l.Message.Contains("reason=upstream-error"), Wait);
        await tunnel.Server.Tracker.WhenDrainedAsync().WaitAsync(Wait);
        await tunnel.Client!.Tracker.WhenDrainedAsync().WaitAsync(Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_reset_resets_the_upstream()
    {
        var upstreamError = new TaskCompletionSource<SocketError>();
        await using var upstream = new TcpTestServer(async socket =>
        {
            try
            {
                var buffer = new byte[1024];
                while (await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None) > 0)
                {
                }

                upstreamError.TrySetResult(SocketError.Success);
            }
            catch (SocketException ex)
            {
                upstreamError.TrySetResult(ex.SocketErrorCode);
            }
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);
        var socket = await tunnel.ConnectClientAsync();
        await socket.SendAsync("hello"u8.ToArray(), SocketFlags.None);
        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains(" open: "), Wait);
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();

        Assert.Equal(SocketError.ConnectionReset, await upstreamError.Task.WaitAsync(Wait));
        await tunnel.Server.Tracker.WhenDrainedAsync().WaitAsync(Wait);
        await tunnel.Client!.Tracker.WhenDrainedAsync().WaitAsync(Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_silent_tcp_client_is_cut_at_the_handshake_timeout_and_never_reaches_the_upstream()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address,
            server: s => s["handshakeTimeout"] = "500ms", withClient: false);

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(tunnel.ServerEndPoint);
        var started = DateTime.UtcNow;
        var ended = await ReadUntilClosedAsync(socket, Wait);
        Assert.True(ended, "the server should close a connection that never completes a handshake");
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(10));
        await _logs.WaitForAsync("reason=handshake-timeout", Wait);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_idle_connection_is_reset_after_the_idle_timeout()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address,
            server: s => s["idleTimeout"] = "700ms", client: c => c["idleTimeout"] = "5m");
        using var socket = await tunnel.ConnectClientAsync();
        await socket.SendAsync("ping"u8.ToArray(), SocketFlags.None);
        var buffer = new byte[4];
        Assert.Equal(4, await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));

        Assert.True(await ReadUntilClosedAsync(socket, Wait));
        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains("reason=idle-timeout"), Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_busy_connection_is_reset_at_its_maximum_lifetime()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address,
            client: c => c["maxLifetime"] = "1s");
        using var socket = await tunnel.ConnectClientAsync();
        var started = DateTime.UtcNow;
        var buffer = new byte[64];
        var closed = false;
        while (!closed && DateTime.UtcNow - started < Wait)
        {
            try
            {
                await socket.SendAsync("0123456789"u8.ToArray(), SocketFlags.None);
                closed = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait) == 0;
            }
            catch (SocketException)
            {
                closed = true;
            }
        }

        Assert.True(closed);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(10));
        await _logs.WaitForAsync(l => l.Category == "tunnel-client" && l.Message.Contains("reason=max-lifetime"), Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_probe_connection_that_sends_nothing_costs_no_handshake()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);
        using (var probe = await tunnel.ConnectClientAsync())
        {
            probe.Shutdown(SocketShutdown.Send);
            Assert.True(await ReadUntilClosedAsync(probe, Wait));
        }

        var closed = await _logs.WaitForAsync("reason=no-data", Wait);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, closed.Level);
        Assert.DoesNotContain(_logs.Lines, l => l.Category == "tunnel-server" && l.Message.Contains("conn"));
        Assert.DoesNotContain(_logs.Lines, l => l.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sigterm_lets_in_flight_transfers_finish_and_exits_0()
    {
        var release = new TaskCompletionSource();
        await using var upstream = new TcpTestServer(async socket =>
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var buffer = new byte[5];
            await stream.ReadExactlyAsync(buffer);
            await release.Task;
            await Payload.SendAsync(stream, 1_000_000, seed: 11);
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["shutdownTimeout"] = "20s");
        using var socket = await tunnel.ConnectClientAsync();
        using var stream = new NetworkStream(socket);
        await stream.WriteAsync("hello"u8.ToArray());
        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains(" open: "), Wait);

        tunnel.Server.Host.RequestStop();
        await _logs.WaitForAsync("draining 1 connections", Wait);
        using (var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            var refused = await Assert.ThrowsAsync<SocketException>(() => late.ConnectAsync(tunnel.ServerEndPoint).WaitAsync(Wait));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }

        release.SetResult();
        socket.Shutdown(SocketShutdown.Send);
        var (hash, length) = await Payload.ReceiveAsync(stream).WaitAsync(Wait);
        Assert.Equal(1_000_000, length);
        Assert.Equal(Payload.Expected(1_000_000, seed: 11), hash);
        Assert.Equal(ExitCodes.Ok, await tunnel.StopServerAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_connection_accepted_before_sigterm_is_served_when_its_handshake_ends_after_it()
    {
        // A SIGTERM under a steady stream of new connections lands while some are accepted but still in their TLS
        // handshake. tunnel-client sends its first bytes right behind the handshake: such a connection is a request
        // in flight, not an idle one, and must be served rather than closed as "never sent anything".
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["shutdownTimeout"] = "20s",
            withClient: false);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(tunnel.ServerEndPoint);
        await tunnel.Server.Tracker.WhenActiveAsync(1).WaitAsync(Wait);

        tunnel.Server.Host.RequestStop();
        await _logs.WaitForAsync("draining 1 connections", Wait);
        await using var tls = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsClientAsync(TlsTestClient.Options(_pki.Root, tunnel.ClientCertificate)).WaitAsync(Wait);
        await tls.WriteAsync("hello"u8.ToArray());
        var echo = new byte[5];
        await tls.ReadExactlyAsync(echo).AsTask().WaitAsync(Wait);
        Assert.Equal("hello", Encoding.ASCII.GetString(echo));
        tls.Close();
        Assert.Equal(ExitCodes.Ok, await tunnel.StopServerAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_connection_accepted_by_the_client_just_before_sigterm_still_carries_its_request()
    {
        // The client-side twin: Squid connects and sends its request a moment later; a drain starting in between
        // must not close the connection as one that never sent anything.
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c => c["shutdownTimeout"] = "20s");
        using var socket = await tunnel.ConnectClientAsync();
        await tunnel.Client!.Tracker.WhenActiveAsync(1).WaitAsync(Wait);

        tunnel.Client!.Host.RequestStop();
        await _logs.WaitForAsync("draining 1 connections", Wait);
        await socket.SendAsync("hello"u8.ToArray(), SocketFlags.None);
        var echo = new byte[5];
        Assert.Equal(5, await socket.ReceiveAsync(echo.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
        Assert.Equal("hello", Encoding.ASCII.GetString(echo));
        socket.Shutdown(SocketShutdown.Send);
        Assert.True(await ReadUntilClosedAsync(socket, Wait));
        Assert.Equal(ExitCodes.Ok, await tunnel.StopClientAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task Sigterm_closes_idle_and_silent_connections_gracefully_instead_of_waiting_for_them()
    {
        // Squid keeps idle keep-alive connections to its parent for a minute and opens standby connections that
        // send nothing; neither may hold a drain until the shutdown timeout.
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address,
            server: s => s["shutdownTimeout"] = "30s", client: c => c["shutdownTimeout"] = "30s");
        using var keepAlive = await tunnel.ConnectClientAsync();
        await keepAlive.SendAsync("ping"u8.ToArray(), SocketFlags.None);
        Assert.Equal(4, await keepAlive.ReceiveAsync(new byte[4].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
        using var silent = await tunnel.ConnectClientAsync();
        await tunnel.Client!.Tracker.WhenActiveAsync(2).WaitAsync(Wait);

        var started = DateTime.UtcNow;
        tunnel.Client!.Host.RequestStop();
        // Both get a FIN (not an RST), and close in turn, as Squid does with an idle parent connection.
        Assert.Equal(0, await keepAlive.ReceiveAsync(new byte[4].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
        keepAlive.Close();
        Assert.Equal(0, await silent.ReceiveAsync(new byte[4].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
        silent.Close();
        Assert.Equal(ExitCodes.Ok, await tunnel.StopClientAsync());
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        Assert.Contains(_logs.Lines, l => l.Category == "tunnel-client" && l.Message.Contains("reason=drained") && l.Message.Contains("up=4"));
        Assert.Contains(_logs.Lines, l => l.Category == "tunnel-client" && l.Message.Contains("reason=drained") && l.Message.Contains("up=0"));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_drain_that_times_out_resets_what_is_left_and_exits_1()
    {
        // An upstream that never stops sending keeps the connection busy through the whole drain.
        await using var upstream = new TcpTestServer(async socket =>
        {
            var chunk = new byte[16 * 1024];
            while (true)
            {
                await socket.SendAsync(chunk.AsMemory(), SocketFlags.None);
            }
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["shutdownTimeout"] = "500ms");
        using var socket = await tunnel.ConnectClientAsync();
        await socket.SendAsync("hello"u8.ToArray(), SocketFlags.None);
        var reader = ReadUntilClosedAsync(socket, Wait);
        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains(" open: "), Wait);

        Assert.Equal(ExitCodes.Failure, await tunnel.StopServerAsync());
        Assert.True(await reader);
        Assert.True(_logs.Contains("reason=shutdown"));
    }

    /// <summary>Reads until the peer closes or resets; false if it is still open at the deadline.</summary>
    internal static async Task<bool> ReadUntilClosedAsync(Socket socket, TimeSpan timeout)
    {
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(timeout) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public void Dispose() => _pki.Dispose();
}
