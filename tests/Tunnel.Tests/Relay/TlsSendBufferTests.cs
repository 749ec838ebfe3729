using System.Security.Cryptography;
using Tunnel.Relay;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Relay;

/// <summary>The buffer under SslStream's writes: the records of one large write, or of writes gathered on purpose,
/// leave in one socket write and arrive intact; small writes go straight through; a failure holds nothing back.</summary>
public sealed class TlsSendBufferTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly TestPki _pki = new();

    [Fact(Timeout = 20_000)]
    public async Task The_four_records_of_a_64_KiB_write_leave_in_one_socket_write()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        var data = RandomNumberGenerator.GetBytes(64 * 1024);

        var before = pair.Client.Transport.Writes;
        await pair.Client.Endpoint.Stream.WriteAsync(data).AsTask().WaitAsync(Wait);

        Assert.Equal(1, pair.Client.Transport.Writes - before);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await ReceiveAsync(pair.Server, data.Length)));
    }

    [Theory(Timeout = 20_000)]
    [InlineData(256 * 1024, 1)] // the relay's largest write: 16 records of 16,406 bytes, 262,496 in one send
    [InlineData(1024 * 1024, 3)] // 64 records: as many as fit in 512 KiB per send (31, 31, 2)
    public async Task A_large_write_leaves_in_as_few_socket_writes_as_the_buffer_allows(int size, int sends)
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        var data = RandomNumberGenerator.GetBytes(size);

        var before = pair.Client.Transport.Writes;
        var write = pair.Client.Endpoint.Stream.WriteAsync(data).AsTask();
        var received = await ReceiveAsync(pair.Server, data.Length);
        await write.WaitAsync(Wait);

        Assert.Equal(sends, pair.Client.Transport.Writes - before);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(received));
    }

    [Fact(Timeout = 20_000)]
    public async Task Writes_of_one_record_or_less_go_straight_through()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        var data = RandomNumberGenerator.GetBytes(3 * 1000);

        var before = pair.Client.Transport.Writes;
        for (var i = 0; i < 3; i++)
        {
            await pair.Client.Endpoint.Stream.WriteAsync(data.AsMemory(i * 1000, 1000)).AsTask().WaitAsync(Wait);
            Assert.Equal(i + 1, pair.Client.Transport.Writes - before);
        }

        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await ReceiveAsync(pair.Server, data.Length)));
    }

    [Fact(Timeout = 20_000)]
    public async Task Writes_gathered_on_purpose_wait_until_sent_then_leave_together()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        var data = RandomNumberGenerator.GetBytes(3 * 1000);

        var before = pair.Client.Transport.Writes;
        pair.Client.Endpoint.GatherWrites();
        for (var i = 0; i < 3; i++)
        {
            await pair.Client.Endpoint.Stream.WriteAsync(data.AsMemory(i * 1000, 1000)).AsTask().WaitAsync(Wait);
        }

        Assert.Equal(0, pair.Client.Transport.Writes - before);
        await pair.Client.Endpoint.SendGatheredAsync(CancellationToken.None).AsTask().WaitAsync(Wait);
        Assert.Equal(1, pair.Client.Transport.Writes - before);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await ReceiveAsync(pair.Server, data.Length)));

        // Gathering ended with the send: the next write leaves at once.
        await pair.Client.Endpoint.Stream.WriteAsync(data.AsMemory(0, 10)).AsTask().WaitAsync(Wait);
        Assert.Equal(2, pair.Client.Transport.Writes - before);
    }

    [Fact(Timeout = 20_000)]
    public async Task A_large_write_into_a_gathering_already_holding_records_arrives_intact()
    {
        // A multiplexed connection's writer gathers small frames, then a stream's 256 KiB batch comes next: its
        // records need more room than the gathering's buffer had when the small ones went in.
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        var small = RandomNumberGenerator.GetBytes(3 * 1000);
        var large = RandomNumberGenerator.GetBytes(StreamPump.MaxBufferSize);

        pair.Client.Endpoint.GatherWrites();
        for (var i = 0; i < 3; i++)
        {
            await pair.Client.Endpoint.Stream.WriteAsync(small.AsMemory(i * 1000, 1000)).AsTask().WaitAsync(Wait);
        }

        var write = pair.Client.Endpoint.Stream.WriteAsync(large).AsTask();
        var receiving = ReceiveAsync(pair.Server, small.Length + large.Length);
        await await Task.WhenAny(write, receiving).WaitAsync(Wait); // a failed write surfaces here
        await write.WaitAsync(Wait);
        await pair.Client.Endpoint.SendGatheredAsync(CancellationToken.None).AsTask().WaitAsync(Wait);
        var received = await receiving;

        Assert.Equal(SHA256.HashData([.. small, .. large]), SHA256.HashData(received));
    }

    [Fact(Timeout = 10_000)]
    public async Task A_gathered_write_that_fails_holds_nothing_back_and_the_next_write_goes_straight_through()
    {
        var transport = new FailingStream { Fail = true };
        var buffer = new TlsSendBuffer(transport);

        // Stands in for SslStream: four 16 KiB "records" written to the buffer one by one.
        var tls = new RecordWriter(buffer);
        await Assert.ThrowsAsync<IOException>(() => buffer.WriteGatheredAsync(tls, new byte[64 * 1024], CancellationToken.None).AsTask());
        Assert.Equal(1, transport.Attempts); // one attempt to send the four together, none held back after it

        transport.Fail = false;
        await buffer.WriteAsync(new byte[10]);
        Assert.Equal(2, transport.Attempts);
        Assert.Equal(10, transport.Written);
    }

    private static async Task<byte[]> ReceiveAsync(TlsEndpointPair.Side side, int length)
    {
        var received = new byte[length];
        await side.Endpoint.Stream.ReadExactlyAsync(received).AsTask().WaitAsync(Wait);
        return received;
    }

    public void Dispose() => _pki.Dispose();

    private sealed class RecordWriter(Stream transport) : MemoryStream
    {
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            for (var offset = 0; offset < buffer.Length; offset += 16 * 1024)
            {
                await transport.WriteAsync(buffer.Slice(offset, Math.Min(16 * 1024, buffer.Length - offset)), cancellationToken);
            }
        }
    }

    private sealed class FailingStream : MemoryStream
    {
        public bool Fail { get; set; }

        public int Attempts { get; private set; }

        public long Written { get; private set; }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Attempts++;
            if (Fail)
            {
                return ValueTask.FromException(new IOException("connection reset"));
            }

            Written += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }
}
