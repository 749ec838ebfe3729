using System.Buffers.Binary;
using System.Security.Cryptography;
using Tunnel.Relay;

namespace Tunnel.Tests.Relay;

/// <summary>The large-read buffer under SslStream: it hands over every byte in order, follows the TLS record framing
/// however SslStream splits its reads, and holds no buffer while idle.</summary>
public sealed class TlsReceiveBufferTests
{
    [Theory(Timeout = 10_000)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(4096)]
    [InlineData(16_410)]
    public async Task Hands_over_every_byte_in_order_whatever_the_read_sizes(int readSize)
    {
        var wire = Records(30, seed: readSize);
        var buffer = new TlsReceiveBuffer(new TrickleStream(wire, chunk: 10_000));

        var received = new MemoryStream();
        var chunk = new byte[readSize];
        int read;
        while ((read = await buffer.ReadAsync(chunk)) > 0)
        {
            received.Write(chunk, 0, read);
        }

        Assert.Equal(SHA256.HashData(wire), SHA256.HashData(received.ToArray()));
    }

    [Fact(Timeout = 10_000)]
    public async Task Receives_that_fill_the_buffer_grow_it_and_short_ones_shrink_it_back()
    {
        // 40 full records arrive faster than they are read: the first receive fills 128 KiB, so the next offers
        // 256 KiB. Then the transport trickles 1,000 bytes at a time and the offer shrinks back to 128 KiB.
        var bulk = Records(40, seed: 1, length: 16_401);
        var trickle = Records(3, seed: 2, length: 995);
        var transport = new TrickleStream([.. bulk, .. trickle], chunk: int.MaxValue);
        var buffer = new TlsReceiveBuffer(transport);

        var received = new MemoryStream();
        var chunk = new byte[16_406];
        int read;
        while ((read = await buffer.ReadAsync(chunk)) > 0)
        {
            received.Write(chunk, 0, read);
            transport.Chunk = received.Length >= bulk.Length ? 1000 : int.MaxValue;
        }

        Assert.Equal(SHA256.HashData([.. bulk, .. trickle]), SHA256.HashData(received.ToArray()));
        Assert.Equal([TlsReceiveBuffer.MinSize, TlsReceiveBuffer.MaxSize, TlsReceiveBuffer.MaxSize], transport.Offered.Take(3));
        Assert.Equal(TlsReceiveBuffer.MinSize, transport.Offered[^1]);
    }

    [Fact(Timeout = 10_000)]
    public async Task Says_the_next_record_is_here_only_when_all_of_it_is()
    {
        // Two 16 KiB records arrive in one receive, the third is cut in the middle of its header.
        var wire = Records(3, seed: 1, length: 16_384);
        var firstReceive = 2 * (5 + 16_384) + 3;
        var buffer = new TlsReceiveBuffer(new TrickleStream(wire, chunk: firstReceive));
        Assert.False(buffer.MoreIsHere); // nothing received yet

        await ReadExactlyAsync(buffer, 5); // the first header: the rest of the record is here
        Assert.True(buffer.MoreIsHere);
        await ReadExactlyAsync(buffer, 16_384 - 100); // most of the first record
        Assert.True(buffer.MoreIsHere);
        await ReadExactlyAsync(buffer, 100); // the first record ends; the second is here whole
        Assert.True(buffer.MoreIsHere);
        await ReadExactlyAsync(buffer, 5 + 16_384); // the second ends; 3 bytes of the third's header are here
        Assert.False(buffer.MoreIsHere);
        await ReadExactlyAsync(buffer, 3);
        Assert.False(buffer.MoreIsHere); // the rest is on the network
    }

    /// <summary>SslStream moves a record it holds only in part to the front of its buffer before reading the rest:
    /// a read ends where a record ends whenever one ends within it, so that copy is never needed.</summary>
    [Fact(Timeout = 10_000)]
    public async Task A_read_ends_where_a_record_ends_when_one_ends_within_it()
    {
        const int Record = 5 + 16_384;
        var wire = Records(3, seed: 4, length: 16_384);
        var buffer = new TlsReceiveBuffer(new TrickleStream(wire, chunk: 2 * Record + Record / 2));
        var read = new byte[32 * 1024]; // what SslStream asks for: the free part of its 32 KiB buffer

        Assert.Equal(Record, await buffer.ReadAsync(read)); // not 32 KiB: that would end inside the second record
        Assert.Equal(Record, await buffer.ReadAsync(read.AsMemory(0, Record + 100)));
        Assert.Equal(Record / 2, await buffer.ReadAsync(read)); // no record ends in what is here: all of it
        Assert.Equal(100, await buffer.ReadAsync(read.AsMemory(0, 100))); // asked for less than a record: as asked
        Assert.Equal(Record - Record / 2 - 100, await buffer.ReadAsync(read)); // the rest of the third record
    }

    [Fact(Timeout = 10_000)]
    public async Task Short_records_such_as_session_tickets_are_not_read_ahead()
    {
        var wire = Records(2, seed: 2, length: 250);
        var buffer = new TlsReceiveBuffer(new TrickleStream(wire, chunk: wire.Length));

        await ReadExactlyAsync(buffer, 5);

        Assert.False(buffer.MoreIsHere);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_zero_byte_read_waits_on_the_transport_only_when_nothing_is_buffered()
    {
        var wire = Records(1, seed: 3, length: 1000);
        var transport = new TrickleStream(wire, chunk: wire.Length);
        var buffer = new TlsReceiveBuffer(transport);

        Assert.Equal(0, await buffer.ReadAsync(Memory<byte>.Empty));
        Assert.Equal(1, transport.ZeroByteReads);
        await ReadExactlyAsync(buffer, 10);
        Assert.Equal(0, await buffer.ReadAsync(Memory<byte>.Empty));
        Assert.Equal(1, transport.ZeroByteReads); // answered from the buffer
    }

    /// <summary>TLS records with random contents: header (type 23, version 3.3, length), then the body.</summary>
    private static byte[] Records(int count, int seed, int? length = null)
    {
        var random = new Random(seed);
        var wire = new MemoryStream();
        for (var i = 0; i < count; i++)
        {
            var bodyLength = length ?? random.Next(1, 16_384 + 256);
            var record = new byte[5 + bodyLength];
            record[0] = 23;
            record[1] = 3;
            record[2] = 3;
            BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(3), (ushort)bodyLength);
            random.NextBytes(record.AsSpan(5));
            wire.Write(record);
        }

        return wire.ToArray();
    }

    private static async Task ReadExactlyAsync(Stream stream, int count) => await stream.ReadExactlyAsync(new byte[count]);

    /// <summary>A transport that returns at most <paramref name="chunk"/> bytes per read, as a socket returns what has
    /// arrived.</summary>
    private sealed class TrickleStream(byte[] data, int chunk) : Tunnel.Net.ReadWrappingStream(Null)
    {
        private int _position;

        public int ZeroByteReads { get; private set; }

        /// <summary>The size of every non-empty read.</summary>
        public List<int> Offered { get; } = [];

        public int Chunk { get; set; } = chunk;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty)
            {
                ZeroByteReads++;
                return ValueTask.FromResult(0);
            }

            Offered.Add(buffer.Length);
            var count = Math.Min(Math.Min(Chunk, buffer.Length), data.Length - _position);
            data.AsSpan(_position, count).CopyTo(buffer.Span);
            _position += count;
            return ValueTask.FromResult(count);
        }
    }
}
