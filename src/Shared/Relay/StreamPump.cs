namespace Tunnel.Relay;

/// <summary>Copies one direction of a connection.</summary>
/// <remarks>
/// Modelled on YARP's StreamCopier: a zero-byte read first so that an idle connection holds no buffer, a pooled
/// buffer returned in <c>finally</c>, and a result value instead of exceptions. The buffer goes back to the pool
/// whenever a read did not fill it (the input is probably drained), so a connection that carried a request and is
/// now waiting holds nothing but its sockets. The buffer starts at <see cref="DefaultBufferSize"/> and grows to
/// <see cref="MaxBufferSize"/> while reads fill it (<see cref="AdaptiveBufferSize"/>).
/// </remarks>
internal static class StreamPump
{
    /// <summary>Four TLS records of plaintext: large enough for bulk transfer, returned to the pool when idle. Four
    /// records less a framing header each (<see cref="TlsRecord.FramedPayload"/>: four full multiplexed DATA frames
    /// exactly), so a read of this size goes out as four full records on a multiplexed connection too, not four and a
    /// 40-byte fifth.</summary>
    public const int DefaultBufferSize = 4 * TlsRecord.FramedPayload;

    /// <summary>What a bulk transfer grows the buffer to: sixteen full multiplexed DATA frames (256 KiB less 128
    /// bytes, so it still comes from the pool's 256 KiB arrays).</summary>
    public const int MaxBufferSize = 4 * DefaultBufferSize;

    /// <summary>A write that takes longer says the output, not this loop, is the bottleneck (a consumer behind a WAN
    /// link): then the buffer shrinks instead of growing, since system calls saved cost nothing next to the wait.
    /// On loopback or a LAN a write that waits for room is done in well under a millisecond; 10 ms leaves room for a
    /// busy machine's scheduling delays and garbage collections, which only cost a halving when they hit.</summary>
    public static readonly TimeSpan SlowWrite = TimeSpan.FromMilliseconds(10);

    public static async Task<PumpOutcome> CopyAsync(
        Stream input,
        Stream output,
        ActivityClock activity,
        CancellationToken cancellationToken,
        int bufferSize = DefaultBufferSize,
        Action<long>? countBytes = null)
    {
        var size = new AdaptiveBufferSize(bufferSize, Math.Max(bufferSize, MaxBufferSize));
        byte[]? buffer = null;
        long total = 0;
        try
        {
            while (true)
            {
                if (buffer is null)
                {
                    try
                    {
                        // Wait for data without holding a buffer (supported by NetworkStream and SslStream).
#pragma warning disable CA2022 // A zero-byte read returns no data by design.
                        await input.ReadAsync(Memory<byte>.Empty, cancellationToken);
#pragma warning restore CA2022
                    }
                    catch (Exception ex)
                    {
                        return Fail(PumpResult.InputError, total, ex, cancellationToken);
                    }

                    buffer = BufferPool.Shared.Rent(size.Current);
                }

                // The size this buffer was rented for: the pool may hand out a larger array.
                var offered = size.Current;

                int read;
                try
                {
                    read = await input.ReadAsync(buffer.AsMemory(0, offered), cancellationToken);
                }
                catch (Exception ex)
                {
                    return Fail(PumpResult.InputError, total, ex, cancellationToken);
                }

                if (read == 0)
                {
                    return new PumpOutcome(PumpResult.Success, total);
                }

                // Records that have already arrived are decrypted now and leave with these bytes, in one write that
                // fills the buffer: SslStream keeps the part of a record that does not fit for the next read.
                var ended = false;
                if (input is IReadAhead ahead)
                {
                    while (read < offered && ahead.MoreIsHere)
                    {
                        int more;
                        try
                        {
                            more = await input.ReadAsync(buffer.AsMemory(read, offered - read), cancellationToken);
                        }
                        catch (Exception ex)
                        {
                            return Fail(PumpResult.InputError, total, ex, cancellationToken);
                        }

                        if (more == 0)
                        {
                            ended = true;
                            break;
                        }

                        read += more;
                    }
                }

                activity.Touch();
                var writeStarted = activity.Time.GetTimestamp();
                try
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
                catch (Exception ex)
                {
                    return Fail(PumpResult.OutputError, total, ex, cancellationToken);
                }

                total += read;
                countBytes?.Invoke(read);
                activity.Touch();
                if (ended)
                {
                    return new PumpOutcome(PumpResult.Success, total);
                }

                // A full buffer means more is waiting: keep going, in a larger buffer if it may grow (and the output
                // keeps up). Otherwise the input is probably drained, and the buffer goes back while the next
                // zero-byte read waits.
                var outputKeptUp = activity.Time.GetElapsedTime(writeStarted) < SlowWrite;
                var resized = size.Observe(read, offered, outputKeptUp);
                if (read < offered)
                {
                    BufferPool.Shared.Return(buffer);
                    buffer = null;
                }
                else if (resized)
                {
                    BufferPool.Shared.Return(buffer);
                    buffer = BufferPool.Shared.Rent(size.Current);
                }
            }
        }
        finally
        {
            if (buffer is not null)
            {
                BufferPool.Shared.Return(buffer);
            }
        }
    }

    private static PumpOutcome Fail(PumpResult result, long total, Exception ex, CancellationToken cancellationToken) =>
        ex is OperationCanceledException || cancellationToken.IsCancellationRequested
            ? new PumpOutcome(PumpResult.Canceled, total, ex)
            : new PumpOutcome(result, total, ex);
}
