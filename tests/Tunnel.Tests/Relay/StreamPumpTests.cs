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
        var time = new ManualTimeProvider();
        var clock = new ActivityClock(time);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(TimeSpan.FromMinutes(5), clock.IdleFor);

        await StreamPump.CopyAsync(new MemoryStream(new byte[10]), Stream.Null, clock, CancellationToken.None);

        Assert.Equal(TimeSpan.Zero, clock.IdleFor);
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
