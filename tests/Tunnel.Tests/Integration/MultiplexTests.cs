using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>Multiplexing (opt-in): tunneled connections as streams over a few TLS connections, with the relay
/// semantics of plain connections (bytes intact both ways, half-close, reset), per-stream flow control, drain, and
/// the fall-back when the server does not speak it.</summary>
public sealed class MultiplexTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    private static void Multiplexed(Dictionary<string, string> client) => client["multiplex"] = "true";

    /// <summary>Server-side open lines of multiplexed TLS connections (each one a TLS handshake).</summary>
    private int MultiplexedConnections() => _logs.Count(l => l.EventId.Name == "ConnectionOpened" && (string?)l["Upstream"] == "(multiplexed)");

    [Fact(Timeout = 120_000)]
    public async Task Many_connections_at_once_arrive_intact_over_two_TLS_connections()
    {
        const int Streams = 24;
        const long Big = 32L * 1024 * 1024;
        const long Small = 512 * 1024;
        var received = new System.Collections.Concurrent.ConcurrentDictionary<int, (string Sha256, long Length)>();
        await using var upstream = new TcpTestServer(async socket =>
        {
            // Each connection says which one it is in its first 4 bytes, then gets a payload seeded by that.
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var id = new byte[4];
            await stream.ReadExactlyAsync(id);
            var n = BitConverter.ToInt32(id);
            var send = Payload.SendAsync(stream, n == 0 ? Big : Small, seed: 1000 + n);
            received[n] = await Payload.ReceiveAsync(stream);
            await send;
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: Multiplexed);

        var transfers = Enumerable.Range(0, Streams).Select(async n =>
        {
            using var socket = await tunnel.ConnectClientAsync();
            using var stream = new NetworkStream(socket);
            await stream.WriteAsync(BitConverter.GetBytes(n));
            var receive = Payload.ReceiveAsync(stream);
            var sent = await Payload.SendAsync(stream, n == 0 ? Big : Small, seed: n);
            socket.Shutdown(SocketShutdown.Send);
            var down = await receive;
            return (n, sent, down);
        }).ToList();

        foreach (var (n, sent, down) in await Task.WhenAll(transfers).WaitAsync(TimeSpan.FromSeconds(90)))
        {
            var length = n == 0 ? Big : Small;
            Assert.Equal((Payload.Expected(length, seed: 1000 + n), length), down);
            Assert.True(received.TryGetValue(n, out var up), $"upstream never finished stream {n}");
            Assert.Equal((sent, length), up);
        }

        await _logs.WaitForCountAsync(l => l.EventId.Name == "ConnectionClosed" && (string?)l["Reason"] == "done", 2 * Streams, TimeSpan.FromSeconds(10));
        Assert.Equal(Streams, upstream.Accepted);
        Assert.InRange(MultiplexedConnections(), 1, 2);
    }

    [Fact(Timeout = 60_000)]
    public async Task Return_traffic_keeps_flowing_after_the_client_half_closes()
    {
        var requestReceived = new TaskCompletionSource<string>();
        var releaseResponse = new TaskCompletionSource();
        await using var upstream = new TcpTestServer(async socket =>
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var (hash, _) = await Payload.ReceiveAsync(stream);
            requestReceived.TrySetResult(hash);
            await releaseResponse.Task;
            await Payload.SendAsync(stream, 3 * 1024 * 1024, seed: 7);
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: Multiplexed);

        using var socket = await tunnel.ConnectClientAsync();
        using var stream = new NetworkStream(socket);
        var sent = await Payload.SendAsync(stream, 100_000, seed: 3);
        socket.Shutdown(SocketShutdown.Send);

        Assert.Equal(sent, await requestReceived.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        releaseResponse.SetResult();
        var (hash, length) = await Payload.ReceiveAsync(stream).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(3 * 1024 * 1024, length);
        Assert.Equal(Payload.Expected(3 * 1024 * 1024, seed: 7), hash);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_upstream_reset_reaches_the_client_as_a_reset_and_spares_the_other_streams()
    {
        await using var upstream = new TcpTestServer(async socket =>
        {
            var first = new byte[1];
            await socket.ReceiveAsync(first, SocketFlags.None);
            if (first[0] == (byte)'R')
            {
                await socket.SendAsync("partial"u8.ToArray(), SocketFlags.None);
                Tunnel.Relay.SocketClose.Reset(socket);
                return;
            }

            await socket.SendAsync(first, SocketFlags.None);
            await DataIntegrityTests.EchoAsync(socket);
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: Multiplexed);

        using var survivor = await tunnel.ConnectClientAsync();
        await survivor.SendAsync("E"u8.ToArray(), SocketFlags.None);
        var echo = new byte[1];
        Assert.Equal(1, await survivor.ReceiveAsync(echo.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        using var victim = await tunnel.ConnectClientAsync();
        await victim.SendAsync("R"u8.ToArray(), SocketFlags.None);
        var error = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            var buffer = new byte[64];
            while (await victim.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);

        // The other stream on the same TLS connection carries on.
        for (var i = 0; i < 50; i++)
        {
            await survivor.SendAsync(new[] { (byte)i }, SocketFlags.None);
            Assert.Equal(1, await survivor.ReceiveAsync(echo.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal((byte)i, echo[0]);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_stream_whose_reader_stalls_does_not_stall_the_others()
    {
        const int Flood = 64 * 1024 * 1024;
        var flooded = new TaskCompletionSource<bool>();
        await using var upstream = new TcpTestServer(async socket =>
        {
            var first = new byte[1];
            await socket.ReceiveAsync(first, SocketFlags.None);
            if (first[0] == (byte)'F')
            {
                // Writes far more than the sockets' buffers and the stream's window hold while nobody reads.
                using var stream = new NetworkStream(socket, ownsSocket: false);
                var send = Payload.SendAsync(stream, Flood, seed: 5);
                await Task.WhenAny(send, Task.Delay(TimeSpan.FromSeconds(3)));
                flooded.TrySetResult(send.IsCompleted);
                await send;
                socket.Shutdown(SocketShutdown.Send);
                return;
            }

            await socket.SendAsync(first, SocketFlags.None);
            await DataIntegrityTests.EchoAsync(socket);
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: c =>
        {
            Multiplexed(c);
            c["multiplexConnections"] = "1";
        });

        using var stalled = await tunnel.ConnectClientAsync();
        await stalled.SendAsync("F"u8.ToArray(), SocketFlags.None);
        Assert.False(await flooded.Task.WaitAsync(TimeSpan.FromSeconds(20)), "the flood was never held back");

        using var other = await tunnel.ConnectClientAsync();
        await other.SendAsync("E"u8.ToArray(), SocketFlags.None);
        var echo = new byte[1];
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(1, await other.ReceiveAsync(echo.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
            await other.SendAsync(new[] { (byte)i }, SocketFlags.None);
        }

        // The stalled stream then delivers everything, intact.
        using var stream = new NetworkStream(stalled);
        var (hash, length) = await Payload.ReceiveAsync(stream).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Flood, length);
        Assert.Equal(Payload.Expected(Flood, seed: 5), hash);
        Assert.Equal(1, MultiplexedConnections());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_server_that_does_not_multiplex_gets_plain_connections_and_the_client_says_why()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address,
            server: s => s["multiplex"] = "false", client: Multiplexed);

        var refused = await _logs.WaitForAsync(l => l.EventId.Name == "MuxUnsupported", TimeSpan.FromSeconds(20));
        Assert.Equal(LogLevel.Error, refused.Level);
        Assert.Contains("does not speak it", refused.Message, StringComparison.Ordinal);

        // The preamble reached the upstream like any first bytes (what a stunnel server does), and the echoing
        // upstream sent it back: not the acknowledgement. Connections now go the plain way, and still work.
        using var socket = await tunnel.ConnectClientAsync();
        using var stream = new NetworkStream(socket);
        var receive = Payload.ReceiveAsync(stream);
        var sent = await Payload.SendAsync(stream, 1024 * 1024, seed: 9);
        socket.Shutdown(SocketShutdown.Send);
        Assert.Equal((sent, 1024L * 1024), await receive.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(0, MultiplexedConnections());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_draining_server_finishes_its_streams_and_exits_zero()
    {
        const long Size = 8L * 1024 * 1024;
        var started = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        await using var upstream = new TcpTestServer(async socket =>
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var first = new byte[1];
            await stream.ReadExactlyAsync(first);
            started.TrySetResult();
            await release.Task; // answers only once the server is draining
            await Payload.SendAsync(stream, Size, seed: 11);
            socket.Shutdown(SocketShutdown.Send);
            await Payload.ReceiveAsync(stream);
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: Multiplexed);

        using var socket = await tunnel.ConnectClientAsync();
        using var stream = new NetworkStream(socket);
        await stream.WriteAsync("x"u8.ToArray());
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        tunnel.Server.Host.RequestStop();
        await _logs.WaitForAsync("draining", TimeSpan.FromSeconds(10));
        release.SetResult();
        var (hash, length) = await Payload.ReceiveAsync(stream).WaitAsync(TimeSpan.FromSeconds(20));
        socket.Shutdown(SocketShutdown.Send);
        Assert.Equal(Size, length);
        Assert.Equal(Payload.Expected(Size, seed: 11), hash);
        Assert.Equal(0, await tunnel.StopServerAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_that_breaks_the_framing_is_cut_off_and_named()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);

        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, tunnel.ClientCertificate);
        await tls.WriteAsync(Tunnel.Mux.MuxProtocol.Preamble.ToArray());
        var ack = new byte[8];
        await tls.ReadExactlyAsync(ack).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Tunnel.Mux.MuxProtocol.Acknowledgement.ToArray(), ack);

        // A frame type that does not exist.
        await tls.WriteAsync(new byte[] { 99, 0, 0, 0, 0, 0, 0, 1 });
        var rest = new byte[64];
        try
        {
            Assert.Equal(0, await tls.ReadAsync(rest).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        }
        catch (IOException)
        {
            // Reset: as good as a close here.
        }

        var closed = await _logs.WaitForAsync(l => l.EventId.Name == "ConnectionClosed" && (string?)l["Upstream"] == "(multiplexed)", TimeSpan.FromSeconds(10));
        Assert.Equal("client-error", closed["Reason"]);
        Assert.Contains(_logs.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("unexpected 99 frame", StringComparison.Ordinal));
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_revoked_while_its_multiplexed_connection_is_open_opens_no_new_stream()
    {
        var crl = _pki.WriteCrl([]);
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["crl"] = crl, client: c =>
        {
            Multiplexed(c);
            c["multiplexConnections"] = "1";
        });

        using var established = await tunnel.ConnectClientAsync();
        await EchoAsync(established, 1);

        _pki.WriteCrl([tunnel.ClientCertificate.Cert]);
        Assert.True(tunnel.ReloadServer());

        // A new connection through the still-open multiplexed connection is refused, never reaches the upstream, and
        // Squid's request gets a 502 saying so.
        var accepted = upstream.Accepted;
        using (var refused = await tunnel.ConnectClientAsync())
        {
            await refused.SendAsync("CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n"u8.ToArray(), SocketFlags.None);
            using var stream = new NetworkStream(refused);
            var answer = await new StreamReader(stream).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.StartsWith("HTTP/1.1 502", answer, StringComparison.Ordinal);
            Assert.Contains("no longer accepts this client's certificate", answer, StringComparison.Ordinal);
        }

        var line = await _logs.WaitForAsync(l => l.Message.Contains("revoked", StringComparison.Ordinal) && l.Message.Contains("multiplexed", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Equal(accepted, upstream.Accepted);

        // The connection that was already open carries on, as a plain connection of a revoked client would.
        await EchoAsync(established, 2);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_server_killed_mid_transfer_resets_its_streams_instead_of_ending_them_cleanly()
    {
        // The test of relay semantics under multiplexing: a download cut by a dying server must not look complete.
        await using var upstream = new TcpTestServer(async socket =>
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            try
            {
                await Payload.SendAsync(stream, 1L << 30, seed: 13);
            }
            catch (IOException)
            {
                // Cut off by the forced stop.
            }
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, client: Multiplexed);

        using var socket = await tunnel.ConnectClientAsync();
        await socket.SendAsync("go"u8.ToArray(), SocketFlags.None);
        var buffer = new byte[64 * 1024];
        long received = 0;
        while (received < 4 * 1024 * 1024)
        {
            received += await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }

        // Two stop requests: the second resets everything at once, as a crash or a kill would cut it.
        tunnel.Server.Host.RequestStop();
        tunnel.Server.Host.RequestStop();

        var error = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(20)) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Streams_count_half_against_max_connections_and_one_over_it_gets_a_502_with_the_reason()
    {
        await using var upstream = new TcpTestServer(async socket =>
        {
            await socket.SendAsync("HTTP/1.1 200 OK\r\n\r\n"u8.ToArray(), SocketFlags.None);
            await DataIntegrityTests.EchoAsync(socket);
        });
        // Three connections are six descriptors: the listener holds two for the connection it is waiting to accept, the
        // multiplexed TLS connection two (it is an accepted connection), and each stream one (its upstream).
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["maxConnections"] = "3", client: c =>
        {
            Multiplexed(c);
            c["multiplexConnections"] = "1";
        });

        var held = new List<Socket>();
        for (var i = 0; i < 2; i++)
        {
            var socket = await tunnel.ConnectClientAsync();
            held.Add(socket);
            await socket.SendAsync("CONNECT example.test:443 HTTP/1.1\r\n\r\n"u8.ToArray(), SocketFlags.None);
            var answer = new byte[64];
            Assert.True(await socket.ReceiveAsync(answer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)) > 0);
        }

        using (var over = await tunnel.ConnectClientAsync())
        {
            await over.SendAsync("CONNECT example.test:443 HTTP/1.1\r\n\r\n"u8.ToArray(), SocketFlags.None);
            using var stream = new NetworkStream(over);
            var answer = await new StreamReader(stream).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.StartsWith("HTTP/1.1 502", answer, StringComparison.Ordinal);
            Assert.Contains("connection limit (maxConnections 3)", answer, StringComparison.Ordinal);
        }

        Assert.Equal(2, upstream.Accepted);

        // A slot comes back when a stream ends.
        held[0].Dispose();
        await _logs.WaitForCountAsync(l => l.EventId.Name == "ConnectionClosed" && (string?)l["Upstream"] == upstream.Address, 1, TimeSpan.FromSeconds(10));
        using var again = await tunnel.ConnectClientAsync();
        await again.SendAsync("CONNECT example.test:443 HTTP/1.1\r\n\r\n"u8.ToArray(), SocketFlags.None);
        var ok = new byte[64];
        var read = await again.ReceiveAsync(ok.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.StartsWith("HTTP/1.1 200", System.Text.Encoding.ASCII.GetString(ok, 0, read), StringComparison.Ordinal);
        held[1].Dispose();
    }

    private static async Task EchoAsync(Socket socket, byte value)
    {
        await socket.SendAsync(new[] { value }, SocketFlags.None);
        var echo = new byte[1];
        Assert.Equal(1, await socket.ReceiveAsync(echo.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(value, echo[0]);
    }

    public void Dispose() => _pki.Dispose();
}
