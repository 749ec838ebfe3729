using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Tunnel.Relay;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Relay;

public sealed class StreamPumpTests
{
    [Fact(Timeout = 10_000)]
    public async Task Copies_everything_and_reports_success_with_the_byte_count()
    {
        var data = new byte[300_000];
        new Random(5).NextBytes(data);
        var output = new MemoryStream();

        var outcome = await StreamPump.CopyAsync(new MemoryStream(data), output, new ActivityClock(TimeProvider.System), CancellationToken.None);

        Assert.Equal(PumpResult.Success, outcome.Result);
        Assert.Equal(data.Length, outcome.Bytes);
        Assert.Equal(data, output.ToArray());
    }

    [Fact(Timeout = 10_000)]
    public async Task Waits_for_data_with_a_zero_byte_read_before_taking_a_buffer()
    {
        var input = new RecordingStream(new MemoryStream(new byte[10]));

        await StreamPump.CopyAsync(input, Stream.Null, new ActivityClock(TimeProvider.System), CancellationToken.None);

        Assert.Equal(0, input.ReadSizes[0]);
        Assert.True(input.ReadSizes[1] > 0);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_bulk_input_toward_a_quick_output_grows_the_buffer_to_the_largest_size()
    {
        // 2 MiB that the input hands over as fast as asked: reads fill the buffer, so it doubles twice and stays.
        // The pump times writes on the connection's clock, which stands still here: every write is quick, however
        // busy the machine (a write slowed by a hiccup would rightly keep the buffer small).
        var data = RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        var input = new RecordingStream(new MemoryStream(data));
        var output = new MemoryStream(data.Length);

        var outcome = await StreamPump.CopyAsync(input, output, new ActivityClock(new FakeTimeProvider()), CancellationToken.None);

        Assert.Equal(PumpResult.Success, outcome.Result);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(output.ToArray()));
        var offered = input.ReadSizes.Where(size => size > 0).ToList();
        Assert.Equal([StreamPump.DefaultBufferSize, 2 * StreamPump.DefaultBufferSize, StreamPump.MaxBufferSize], offered.Take(3));
        Assert.All(offered.Skip(3), size => Assert.Equal(StreamPump.MaxBufferSize, size));
        Assert.Equal(StreamPump.MaxBufferSize, 16 * Tunnel.Mux.MuxProtocol.MaxDataPayload);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_bulk_input_toward_a_slow_output_keeps_the_smallest_buffer()
    {
        // A slow consumer: reads fill the buffer because the input waits while the write does, and a larger buffer
        // would only hold more memory for as long as the consumer takes.
        var data = RandomNumberGenerator.GetBytes(1024 * 1024);
        var input = new RecordingStream(new MemoryStream(data));
        var time = new FakeTimeProvider();
        var output = new SlowWriteStream(time);

        var outcome = await StreamPump.CopyAsync(input, output, new ActivityClock(time), CancellationToken.None);

        Assert.Equal(PumpResult.Success, outcome.Result);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(output.Received.ToArray()));
        Assert.All(input.ReadSizes.Where(size => size > 0), size => Assert.Equal(StreamPump.DefaultBufferSize, size));
    }

    [Fact(Timeout = 10_000)]
    public async Task Small_reads_keep_the_smallest_buffer()
    {
        var input = new RecordingStream(new ChunkedStream(chunk: 1000, count: 20));

        var outcome = await StreamPump.CopyAsync(input, Stream.Null, new ActivityClock(TimeProvider.System), CancellationToken.None);

        Assert.Equal(20_000, outcome.Bytes);
        Assert.All(input.ReadSizes.Where(size => size > 0), size => Assert.Equal(StreamPump.DefaultBufferSize, size));
    }

    [Fact(Timeout = 10_000)]
    public async Task A_failing_input_is_an_input_error_value_not_an_exception()
    {
        var outcome = await StreamPump.CopyAsync(new FailingStream(failReads: true), Stream.Null, new ActivityClock(TimeProvider.System), CancellationToken.None);

        Assert.Equal(PumpResult.InputError, outcome.Result);
        Assert.IsType<IOException>(outcome.Error);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_failing_output_is_an_output_error_and_counts_only_written_bytes()
    {
        var outcome = await StreamPump.CopyAsync(new MemoryStream(new byte[100]), new FailingStream(failReads: false), new ActivityClock(TimeProvider.System), CancellationToken.None);

        Assert.Equal(PumpResult.OutputError, outcome.Result);
        Assert.Equal(0, outcome.Bytes);
    }

    [Fact(Timeout = 10_000)]
    public async Task Cancellation_is_reported_as_canceled()
    {
        var endpoint = new PipeEndpoint();
        using var cts = new CancellationTokenSource();
        var copy = StreamPump.CopyAsync(endpoint.Stream, Stream.Null, new ActivityClock(TimeProvider.System), cts.Token);
        Assert.False(copy.IsCompleted);

        cts.Cancel();

        Assert.Equal(PumpResult.Canceled, (await copy).Result);
    }

    [Fact(Timeout = 10_000)]
    public async Task Every_read_and_write_touches_the_activity_clock()
    {
        var time = new FakeTimeProvider();
        var clock = new ActivityClock(time);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(TimeSpan.FromMinutes(5), clock.IdleFor);

        await StreamPump.CopyAsync(new MemoryStream(new byte[10]), Stream.Null, clock, CancellationToken.None);

        Assert.Equal(TimeSpan.Zero, clock.IdleFor);
    }

    [Fact(Timeout = 10_000)]
    public async Task Records_already_received_leave_in_one_write()
    {
        // Three 16 KiB pieces are already here, a fourth is on its way: the first three go out together.
        var input = new ReadAheadStream([16_384, 16_384, 16_384], then: [1000]);
        var output = new WriteRecordingStream();

        var outcome = await StreamPump.CopyAsync(input, output, new ActivityClock(TimeProvider.System), CancellationToken.None);

        Assert.Equal(PumpResult.Success, outcome.Result);
        Assert.Equal([3 * 16_384, 1000], output.WriteSizes);
    }

    [Fact(Timeout = 10_000)]
    public async Task Records_already_received_fill_the_buffer_and_the_rest_of_the_last_leaves_next()
    {
        // Four 16 KiB records are here: 65,504 bytes fill the buffer (four multiplexed frames' worth), and the last
        // record's other 32 bytes, which the TLS stream keeps, start the next write.
        var input = new ReadAheadStream([16_384, 16_384, 16_384, 16_384], then: []);
        var output = new WriteRecordingStream();

        var outcome = await StreamPump.CopyAsync(input, output, new ActivityClock(TimeProvider.System), CancellationToken.None);

        Assert.Equal(PumpResult.Success, outcome.Result);
        Assert.Equal([StreamPump.DefaultBufferSize, (4 * 16_384) - StreamPump.DefaultBufferSize], output.WriteSizes);
    }

    [Fact(Timeout = 10_000)]
    public async Task What_was_gathered_is_written_before_an_end_of_stream_found_while_gathering()
    {
        var input = new ReadAheadStream([16_384, 16_384, 0], then: []);
        var output = new WriteRecordingStream();

        var outcome = await StreamPump.CopyAsync(input, output, new ActivityClock(TimeProvider.System), CancellationToken.None);

        Assert.Equal(PumpResult.Success, outcome.Result);
        Assert.Equal(2 * 16_384, outcome.Bytes);
        Assert.Equal([2 * 16_384], output.WriteSizes);
    }

    /// <summary>Returns the <paramref name="here"/> reads (0 is an end of stream) saying that more is here while any
    /// remain, then the <paramref name="then"/> reads saying nothing is, then end of stream.</summary>
    private sealed class ReadAheadStream(int[] here, int[] then) : Tunnel.Net.ReadWrappingStream(Null), IReadAhead
    {
        private readonly Queue<int> _here = new(here);
        private readonly Queue<int> _then = new(then);
        private int _kept; // what a read too small for a whole piece left, returned first by the next (as SslStream does)

        public bool MoreIsHere => _here.Count > 0;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty)
            {
                return ValueTask.FromResult(0);
            }

            var next = _kept > 0 ? _kept : _here.Count > 0 ? _here.Dequeue() : _then.Count > 0 ? _then.Dequeue() : 0;
            var read = Math.Min(next, buffer.Length);
            _kept = next - read;
            return ValueTask.FromResult(read);
        }
    }

    private sealed class WriteRecordingStream() : Tunnel.Net.ReadWrappingStream(Null)
    {
        public List<int> WriteSizes { get; } = [];

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(0);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            WriteSizes.Add(buffer.Length);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Takes every write only after a few milliseconds, as a socket whose peer reads slowly does.</summary>
    private sealed class SlowWriteStream(FakeTimeProvider time) : Tunnel.Net.ReadWrappingStream(Null)
    {
        public MemoryStream Received { get; } = new();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(0);

        /// <summary>Each write takes three times the slow-write threshold on the connection's clock.</summary>
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            time.Advance(StreamPump.SlowWrite * 3);
            Received.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Returns <paramref name="count"/> reads of <paramref name="chunk"/> bytes, then end of stream.</summary>
    private sealed class ChunkedStream(int chunk, int count) : Tunnel.Net.ReadWrappingStream(Null)
    {
        private int _left = count;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty || _left == 0)
            {
                return ValueTask.FromResult(0);
            }

            _left--;
            return ValueTask.FromResult(Math.Min(chunk, buffer.Length));
        }
    }

    private sealed class RecordingStream(Stream inner) : Stream
    {
        public List<int> ReadSizes { get; } = [];

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            ReadSizes.Add(buffer.Length);
            return inner.ReadAsync(buffer, cancellationToken);
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private sealed class FailingStream(bool failReads) : Stream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            failReads ? ValueTask.FromException<int>(new IOException("reset")) : ValueTask.FromResult(0);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException(new IOException("broken pipe"));

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
