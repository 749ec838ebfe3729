using Tunnel.Relay;

namespace Tunnel.Mux;

/// <summary>The one writer of a multiplexed connection: every stream's frames go through its outbox, and whoever
/// finds no write in progress becomes the writer (a stream's relay inline, or a thread-pool worker), writing all that
/// is queued, several small frames in one TLS record and the records of frames queued together in one socket write.
/// Nothing is written under a lock, so a cancelled stream never breaks a record in the middle; the outbox holds about
/// <see cref="OutboxLimit"/> bytes before the streams queueing DATA wait for it.</summary>
internal sealed class MuxFrameWriter(TlsEndpoint transport, Action<Exception> onFailure)
{
    private const int CoalesceLimit = 16 * 1024;
    private const int InlineFrames = 8;

    /// <summary>How many bytes of frames may wait for the writer before the streams queueing them wait too. Without
    /// it only the streams' windows bound the queue (4 MiB per stream), so streams that all send faster than the
    /// connection carries would queue their windows' worth each: memory, and buffers gone cold before they are sent.</summary>
    private const int OutboxLimit = 512 * 1024;

    private readonly Queue<(byte[] Buffer, int Length)> _outbox = new();
    private readonly Lock _writeLock = new();
    private bool _writing;
    private bool _outboxClosed;
    private Exception? _failure;
    private long _outboxBytes;
    private TaskCompletionSource? _outboxRoom;
    private TaskCompletionSource? _writerIdle;
    private byte[]? _staging;

    /// <summary>Sends a DATA frame (a pooled buffer, returned once written). When no write is in progress the caller
    /// writes it at once, with whatever else is queued, and awaits that: no thread hop per frame, and a producer
    /// faster than the connection is held back by it. Otherwise it joins the queue the current writer drains, and
    /// waits only while the queue holds more than <see cref="OutboxLimit"/> bytes (cancelling stops the wait; the
    /// frame stays queued).</summary>
    public ValueTask SendAsync(byte[] frame, int length, CancellationToken cancellationToken)
    {
        lock (_writeLock)
        {
            if (_outboxClosed)
            {
                BufferPool.Shared.Return(frame);
                throw new IOException("the multiplexed connection is closed", _failure);
            }

            EnqueueLocked(frame, length);
            if (_writing)
            {
                if (_outboxBytes <= OutboxLimit)
                {
                    return ValueTask.CompletedTask;
                }

                _outboxRoom ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return new ValueTask(_outboxRoom.Task.WaitAsync(cancellationToken));
            }

            _writing = true;
        }

        return DrainAsync(inline: true, rethrow: true);
    }

    private void EnqueueLocked(byte[] frame, int length)
    {
        _outbox.Enqueue((frame, length));
        _outboxBytes += length;
    }

    private (byte[] Buffer, int Length) DequeueLocked()
    {
        var frame = _outbox.Dequeue();
        _outboxBytes -= frame.Length;
        if (_outboxRoom is not null && _outboxBytes <= OutboxLimit / 2)
        {
            _outboxRoom.TrySetResult(); // the waiting streams continue on the thread pool
            _outboxRoom = null;
        }

        return frame;
    }

    /// <summary>Queues a control frame without waiting for it to be written. When no writer is running, the caller
    /// becomes it (<paramref name="inline"/>: it holds no lock, so a write that cannot finish at once carries on
    /// when the socket has room, and a failure ends the connection) or starts one on the thread pool.</summary>
    public void Post(byte[] frame, int length, bool inline = false)
    {
        lock (_writeLock)
        {
            if (_outboxClosed)
            {
                BufferPool.Shared.Return(frame); // the connection is gone, and the stream with it
                return;
            }

            EnqueueLocked(frame, length);
            if (_writing)
            {
                return;
            }

            _writing = true;
        }

        if (inline)
        {
            _ = DrainAsync(inline: true, rethrow: false).AsTask();
            return;
        }

        DrainOnThreadPool();
    }

    /// <summary>The one writer of the moment: writes queued frames until the queue is empty, several small ones in
    /// one TLS record when they wait together, and the records of frames that waited together in one socket write
    /// (<see cref="TlsEndpoint.GatherWrites"/>). An inline writer (a stream's relay) hands the rest to the thread pool
    /// after a few frames of others', so no stream's relay is held up writing everyone's bytes. A failure ends the
    /// connection, and is thrown to an inline writer that awaits it (<paramref name="rethrow"/>).</summary>
    private async ValueTask DrainAsync(bool inline, bool rethrow = false)
    {
        var written = 0;
        var gathering = false; // frames that were queued together leave in one socket write
        try
        {
            while (true)
            {
                ReadOnlyMemory<byte> chunk = default;
                byte[]? owned = null;
                var send = false;
                lock (_writeLock)
                {
                    var done = _outbox.Count == 0 || _failure is not null;
                    if (done || inline && written >= InlineFrames)
                    {
                        if (!gathering && done)
                        {
                            StopWritingLocked();
                            return;
                        }

                        if (!gathering)
                        {
                            DrainOnThreadPool();
                            return; // still "writing": the thread-pool writer carries on
                        }

                        send = true; // what was gathered leaves first; then look again
                    }
                    else
                    {
                        chunk = NextChunkLocked(ref written, out owned);
                        if (!gathering && _outbox.Count > 0)
                        {
                            transport.GatherWrites();
                            gathering = true;
                        }
                    }
                }

                if (send)
                {
                    gathering = false;
                    await transport.SendGatheredAsync(CancellationToken.None);
                    continue;
                }

                try
                {
                    await transport.Stream.WriteAsync(chunk);
                }
                finally
                {
                    if (owned is not null)
                    {
                        BufferPool.Shared.Return(owned);
                    }
                }

                written++;
            }
        }
        catch (Exception ex)
        {
            transport.DiscardGathered();
            lock (_writeLock)
            {
                StopWritingLocked();
            }

            onFailure(ex);
            if (rethrow)
            {
                throw new IOException($"the multiplexed TLS connection failed: {Net.SocketErrors.Describe(ex)}", ex);
            }
        }
    }

    /// <summary>Under the write lock: the next frame to write, or several small ones copied together into one record.
    /// <paramref name="owned"/> is the frame's pooled buffer, to return once written.</summary>
    private ReadOnlyMemory<byte> NextChunkLocked(ref int written, out byte[]? owned)
    {
        var frame = DequeueLocked();
        if (frame.Length < CoalesceLimit && _outbox.TryPeek(out var next) && frame.Length + next.Length <= CoalesceLimit)
        {
            owned = null;
            _staging ??= new byte[CoalesceLimit];
            var filled = Take(frame, _staging, 0);
            while (_outbox.TryPeek(out next) && filled + next.Length <= CoalesceLimit)
            {
                filled = Take(DequeueLocked(), _staging, filled);
                written++;
            }

            return _staging.AsMemory(0, filled);
        }

        owned = frame.Buffer;
        return frame.Buffer.AsMemory(0, frame.Length);

        static int Take((byte[] Buffer, int Length) frame, byte[] staging, int offset)
        {
            frame.Buffer.AsSpan(0, frame.Length).CopyTo(staging.AsSpan(offset));
            BufferPool.Shared.Return(frame.Buffer);
            return offset + frame.Length;
        }
    }

    /// <summary>Hands the writing to a thread-pool writer (the caller was the writer, or is under a lock).</summary>
    private void DrainOnThreadPool() =>
        ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.DrainAsync(inline: false).AsTask(), this, preferLocal: false);

    /// <summary>Under the write lock: no writer runs any more; frames left (after a failure) go back to the pool.</summary>
    private void StopWritingLocked()
    {
        _writing = false;
        if (_outboxClosed || _failure is not null)
        {
            while (_outbox.Count > 0)
            {
                BufferPool.Shared.Return(DequeueLocked().Buffer);
            }
        }

        _outboxRoom?.TrySetResult(); // a stream waiting for room finds the connection closed when it sends again
        _outboxRoom = null;
        _writerIdle?.TrySetResult();
        _writerIdle = null;
    }

    /// <summary>Closes the queue to new frames; completes once the frames already queued are written (or the
    /// connection failed).</summary>
    public Task CloseAsync()
    {
        lock (_writeLock)
        {
            _outboxClosed = true;
            if (!_writing)
            {
                StopWritingLocked();
                return Task.CompletedTask;
            }

            _writerIdle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _writerIdle.Task;
        }
    }

    /// <summary>The connection ended (<paramref name="failure"/> is null for a clean end): no frame is queued any more,
    /// and after a failure none left is written.</summary>
    public void Close(Exception? failure)
    {
        lock (_writeLock)
        {
            _outboxClosed = true;
            _failure ??= failure;
            if (!_writing)
            {
                StopWritingLocked();
            }
        }
    }
}
