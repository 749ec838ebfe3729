using System.Security.Cryptography;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Mux;

/// <summary>A multiplexed stream's reads: bytes go straight into a waiting read's buffer and what does not fit waits
/// for the next read; a zero-byte read waits without taking anything; a cancelled read loses nothing.</summary>
public sealed class MuxStreamReadTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TestPki _pki = new();

    [Fact(Timeout = 30_000)]
    public async Task Bytes_beyond_a_waiting_reads_buffer_wait_for_the_next_read()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);
        await using var streams = await sessions.OpenStreamAsync(Wait);
        var (client, server) = (streams.Client, streams.Server);

        var small = new byte[10];
        var read = server.ReadAsync(small).AsTask(); // waits: nothing has arrived
        var data = RandomNumberGenerator.GetBytes(100_000);
        await client.WriteAsync(data).AsTask().WaitAsync(Wait);
        await client.CompleteWritesAsync(CancellationToken.None);

        Assert.Equal(10, await read.WaitAsync(Wait));
        using var rest = new MemoryStream();
        await server.CopyToAsync(rest).WaitAsync(Wait);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData([.. small, .. rest.ToArray()]));
    }

    [Fact(Timeout = 60_000)]
    public async Task Frames_that_arrive_together_reach_a_waiting_read_in_one_piece()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);

        // Three DATA frames (three TLS records) from one write: the client's writer sends frames queued together in
        // one socket write, and the session's reader hands out all of them before it wakes the read, so a relay
        // writes them on in one write, not three. Whether the writer finds all three queued is up to the threads
        // (on a loaded machine it may send the first alone), so the test tries up to five streams and needs one
        // read that got all of it; a reader that wakes the read per frame never does. Every try checks the bytes.
        const int size = 48 * 1024;
        var pieces = new List<int>();
        for (var attempt = 0; attempt < 5 && !pieces.Contains(size); attempt++)
        {
            await using var streams = await sessions.OpenStreamAsync(Wait);
            var (client, server) = (streams.Client, streams.Server);
            var buffer = new byte[64 * 1024];
            var read = server.ReadAsync(buffer).AsTask();
            var data = RandomNumberGenerator.GetBytes(size);
            await client.WriteAsync(data).AsTask().WaitAsync(Wait);

            var first = await read.WaitAsync(Wait);
            pieces.Add(first);
            await server.ReadExactlyAsync(buffer.AsMemory(first, data.Length - first)).AsTask().WaitAsync(Wait);
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(buffer.AsSpan(0, data.Length)));
        }

        Assert.Contains(size, pieces);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_zero_byte_read_waits_for_bytes_and_leaves_them_unread()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);
        await using var streams = await sessions.OpenStreamAsync(Wait);
        var (client, server) = (streams.Client, streams.Server);

        var ready = server.ReadAsync(Memory<byte>.Empty).AsTask();
        var data = RandomNumberGenerator.GetBytes(5000);
        await client.WriteAsync(data).AsTask().WaitAsync(Wait);

        Assert.Equal(0, await ready.WaitAsync(Wait));
        var buffer = new byte[data.Length];
        await server.ReadExactlyAsync(buffer).AsTask().WaitAsync(Wait);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(buffer));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_cancelled_read_loses_nothing_that_arrives_after_it()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);
        await using var streams = await sessions.OpenStreamAsync(Wait);
        var (client, server) = (streams.Client, streams.Server);

        var abandoned = new byte[64 * 1024];
        using var cancel = new CancellationTokenSource();
        var read = server.ReadAsync(abandoned, cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(Wait));

        var data = RandomNumberGenerator.GetBytes(50_000);
        await client.WriteAsync(data).AsTask().WaitAsync(Wait);
        await client.CompleteWritesAsync(CancellationToken.None);
        using var received = new MemoryStream();
        await server.CopyToAsync(received).WaitAsync(Wait);

        Assert.Equal(SHA256.HashData(data), SHA256.HashData(received.ToArray()));
        Assert.All(abandoned, b => Assert.Equal(0, b)); // the cancelled read's buffer was never written
    }

    public void Dispose() => _pki.Dispose();
}
