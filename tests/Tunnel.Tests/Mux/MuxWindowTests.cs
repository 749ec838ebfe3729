using Tunnel.Mux;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Mux;

/// <summary>A multiplexed stream's flow-control window: it grows for a reader that keeps up, stays at the initial
/// window for a reader that stalls, and a side that grows its window works with one that never does (an older peer).</summary>
public sealed class MuxWindowTests : IDisposable
{
    private const long Transfer = 16L * 1024 * 1024;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TestPki _pki = new();

    [Theory(Timeout = 60_000)]
    [InlineData(MuxProtocol.MaxReceiveWindow, MuxProtocol.MaxReceiveWindow)]
    [InlineData(MuxProtocol.InitialWindow, MuxProtocol.MaxReceiveWindow)] // a client that never grows its window
    [InlineData(MuxProtocol.MaxReceiveWindow, MuxProtocol.InitialWindow)] // a server that never grows its window
    public async Task Every_byte_arrives_both_ways_whether_or_not_each_side_grows_its_window(int clientLimit, int serverLimit)
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait, clientLimit, serverLimit);
        await using var client = sessions.Client.Open();

        // Off xunit's context, so each read runs as soon as the session's reader hands it bytes (as a relay's does).
        var clientSends = Task.Run(async () =>
        {
            var hash = await Payload.SendAsync(client, Transfer, seed: 1);
            await client.CompleteWritesAsync(CancellationToken.None);
            return hash;
        });
        var clientReceives = Task.Run(() => Payload.ReceiveAsync(client));
        await using var server = await sessions.AcceptAsync(Wait);
        var serverSends = Task.Run(async () =>
        {
            var hash = await Payload.SendAsync(server, Transfer, seed: 2);
            await server.CompleteWritesAsync(CancellationToken.None);
            return hash;
        });
        var serverReceives = Task.Run(() => Payload.ReceiveAsync(server));

        Assert.Equal((await clientSends.WaitAsync(Wait), Transfer), await serverReceives.WaitAsync(Wait));
        Assert.Equal((await serverSends.WaitAsync(Wait), Transfer), await clientReceives.WaitAsync(Wait));

        // How far a free-running transfer widens a window depends on how the threads were scheduled (a reader that
        // falls behind keeps it); never past the side's own limit, and a side that never grows it stays put.
        Assert.InRange(server.ReceiveWindow, MuxProtocol.InitialWindow, serverLimit);
        Assert.InRange(client.ReceiveWindow, MuxProtocol.InitialWindow, clientLimit);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_reader_that_keeps_up_gets_its_window_doubled_up_to_the_limit(bool clientSends)
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);
        await using var streams = await sessions.OpenStreamAsync(Wait);
        var (sender, receiver) = clientSends ? (streams.Client, streams.Server) : (streams.Server, streams.Client);

        // Lock-step, so the reader is ahead of every byte whatever the scheduling: each 64 KiB piece is sent once the
        // one before it has been read. Growing from the initial window to the limit (two doublings) takes 3/4 of an
        // initial window read; a limit's worth is sent.
        const int piece = 64 * 1024;
        var data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(MuxProtocol.MaxReceiveWindow);
        var received = new byte[data.Length];
        for (var offset = 0; offset < data.Length; offset += piece)
        {
            await sender.WriteAsync(data.AsMemory(offset, piece)).AsTask().WaitAsync(Wait);
            await receiver.ReadExactlyAsync(received.AsMemory(offset, piece)).AsTask().WaitAsync(Wait);
            Assert.Equal(0, receiver.Buffered);
        }

        Assert.Equal(SHA256(data), SHA256(received));
        Assert.Equal(MuxProtocol.MaxReceiveWindow, receiver.ReceiveWindow);
        Assert.Equal(MuxProtocol.InitialWindow, sender.ReceiveWindow); // it read at most the stream's opening byte
    }

    [Fact(Timeout = 60_000)]
    public async Task A_reader_that_stalls_holds_only_the_initial_window_and_then_gets_everything()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);
        await using var client = sessions.Client.Open();

        var sends = Task.Run(async () =>
        {
            var hash = await Payload.SendAsync(client, Transfer, seed: 3);
            await client.CompleteWritesAsync(CancellationToken.None);
            return hash;
        });
        await using var server = await sessions.AcceptAsync(Wait);

        // Nothing reads: the sender stops once a window's worth has arrived.
        await Poll.UntilAsync(() => Task.FromResult((server.Buffered == MuxProtocol.InitialWindow, server.Buffered)), Wait, "a full window arriving");
        Assert.False(sends.IsCompleted, "the sender finished without the receiver reading");
        Assert.Equal(MuxProtocol.InitialWindow, server.ReceiveWindow);

        var received = await Task.Run(() => Payload.ReceiveAsync(server)).WaitAsync(Wait);
        Assert.Equal((await sends.WaitAsync(Wait), Transfer), received);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_write_waiting_for_window_can_be_cancelled_and_the_rest_still_flows()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);
        await using var streams = await sessions.OpenStreamAsync(Wait);
        var (client, server) = (streams.Client, streams.Server);

        // One byte of the window went with the open: a window's worth more stalls one byte short.
        var data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(MuxProtocol.InitialWindow);
        using var cancel = new CancellationTokenSource();
        var write = client.WriteAsync(data, cancel.Token).AsTask();
        await Poll.UntilAsync(() => Task.FromResult((server.Buffered == MuxProtocol.InitialWindow - 1, server.Buffered)), Wait, "the window filled");
        Assert.False(write.IsCompleted);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write.WaitAsync(Wait));

        // The stream carries on: what was sent arrives, then what is written after the cancelled write.
        var more = System.Security.Cryptography.RandomNumberGenerator.GetBytes(1000);
        var reading = Task.Run(async () =>
        {
            using var copy = new MemoryStream();
            await server.CopyToAsync(copy);
            return copy.ToArray();
        });
        await client.WriteAsync(more).AsTask().WaitAsync(Wait);
        await client.CompleteWritesAsync(CancellationToken.None);
        var received = await reading.WaitAsync(Wait);
        Assert.Equal(MuxProtocol.InitialWindow - 1 + more.Length, received.Length);
        Assert.Equal(SHA256([.. data.AsSpan(0, MuxProtocol.InitialWindow - 1), .. more]), SHA256(received));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_write_waiting_for_window_fails_with_the_reason_the_peer_reset_the_stream()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);
        await using var streams = await sessions.OpenStreamAsync(Wait);
        var (client, server) = (streams.Client, streams.Server);

        var write = client.WriteAsync(new byte[2 * MuxProtocol.InitialWindow]).AsTask();
        await Poll.UntilAsync(() => Task.FromResult((server.Buffered == MuxProtocol.InitialWindow - 1, server.Buffered)), Wait, "the window filled");
        Assert.False(write.IsCompleted);

        server.Abort("upstream closed");

        var error = await Assert.ThrowsAsync<MuxStreamResetException>(() => write.WaitAsync(Wait));
        Assert.Contains("upstream closed", error.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task Streams_wait_when_the_connection_falls_behind_instead_of_queueing_their_whole_windows()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);
        await using var first = sessions.Client.Open();
        await using var second = sessions.Client.Open();
        var data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(MuxProtocol.InitialWindow);

        // The connection stops taking bytes: the first stream's write becomes the writer and waits in the socket.
        pair.Client.Transport.PauseWrites();
        var writing = first.WriteAsync(data.AsMemory(0, 64 * 1024)).AsTask();
        Assert.False(writing.IsCompleted);

        // The second stream has a whole window (1 MiB) to send, but queues only about half of it, then waits.
        var queueing = second.WriteAsync(data).AsTask();
        Assert.False(queueing.IsCompleted, "a stream queued its whole window behind a stalled connection");

        pair.Client.Transport.ResumeWrites();
        await Task.WhenAll(writing, queueing).WaitAsync(Wait);
        await second.CompleteWritesAsync(CancellationToken.None);
        await first.CompleteWritesAsync(CancellationToken.None);
        var received = new Dictionary<uint, byte[]>();
        for (var i = 0; i < 2; i++)
        {
            await using var stream = await sessions.AcceptAsync(Wait);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy).WaitAsync(Wait);
            received[stream.Id] = copy.ToArray();
        }

        Assert.Equal(SHA256(data.AsSpan(0, 64 * 1024)), SHA256(received[first.Id]));
        Assert.Equal(SHA256(data), SHA256(received[second.Id]));
    }

    private static string SHA256(ReadOnlySpan<byte> bytes) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));

    public void Dispose() => _pki.Dispose();
}
