using System.Net.Sockets;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>Bytes through client → server → upstream arrive intact, in order, in both directions at once.</summary>
public sealed class DataIntegrityTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 120_000)]
    public async Task Sixty_four_MiB_each_way_at_once_arrive_intact()
    {
        const long Size = 64L * 1024 * 1024;
        var upstreamReceived = new TaskCompletionSource<(string Sha256, long Length)>();
        await using var upstream = new TcpTestServer(Payload.DuplexUpstream(Size, seed: 2, upstreamReceived));
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);

        using var socket = await tunnel.ConnectClientAsync();
        using var stream = new NetworkStream(socket);
        var receive = Payload.ReceiveAsync(stream);
        var sentHash = await Payload.SendAsync(stream, Size, seed: 1);
        socket.Shutdown(SocketShutdown.Send);

        var (downHash, downLength) = await receive;
        var (upHash, upLength) = await upstreamReceived.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(Size, upLength);
        Assert.Equal(sentHash, upHash);
        Assert.Equal(Size, downLength);
        Assert.Equal(Payload.Expected(Size, seed: 2), downHash);

        var closed = await _logs.WaitForAsync("reason=done", TimeSpan.FromSeconds(10));
        Assert.Equal(Size, (long)closed["BytesUp"]!);
        Assert.Equal(Size, (long)closed["BytesDown"]!);
    }

    [Fact(Timeout = 60_000)]
    public async Task Tiny_writes_keep_their_order_and_do_not_stall()
    {
        await using var upstream = new TcpTestServer(EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);
        using var socket = await tunnel.ConnectClientAsync();

        var echoed = new byte[1];
        for (var i = 0; i < 500; i++)
        {
            await socket.SendAsync(new[] { (byte)i }, SocketFlags.None);
            var read = await socket.ReceiveAsync(echoed.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal(1, read);
            Assert.Equal((byte)i, echoed[0]);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Return_traffic_keeps_flowing_after_the_client_half_closes()
    {
        var requestReceived = new TaskCompletionSource<string>();
        var releaseResponse = new TaskCompletionSource();
        await using var upstream = new TcpTestServer(async socket =>
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var (hash, _) = await Payload.ReceiveAsync(stream);   // ends at the client's FIN
            requestReceived.TrySetResult(hash);
            await releaseResponse.Task;                             // answer only after the half-close arrived
            await Payload.SendAsync(stream, 3 * 1024 * 1024, seed: 7);
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address);

        using var socket = await tunnel.ConnectClientAsync();
        using var stream = new NetworkStream(socket);
        var sent = await Payload.SendAsync(stream, 100_000, seed: 3);
        socket.Shutdown(SocketShutdown.Send);

        Assert.Equal(sent, await requestReceived.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        releaseResponse.SetResult();
        var (hash, length) = await Payload.ReceiveAsync(stream).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(3 * 1024 * 1024, length);
        Assert.Equal(Payload.Expected(3 * 1024 * 1024, seed: 7), hash);
        await _logs.WaitForAsync("reason=done", TimeSpan.FromSeconds(10));
    }

    internal static async Task EchoAsync(Socket socket)
    {
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
        }

        socket.Shutdown(SocketShutdown.Send);
    }

    public void Dispose() => _pki.Dispose();
}
