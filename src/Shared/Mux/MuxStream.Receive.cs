using Tunnel.Relay;

namespace Tunnel.Mux;

/// <summary>Reading: what the peer sent, from the session's reader to the relay's reads, and the window given back.</summary>
internal sealed partial class MuxStream
{
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var wait = TryRead(buffer, out var count, out var acknowledge);
            if (wait is null)
            {
                if (acknowledge > 0)
                {
                    _session.SendWindowUpdate(Id, acknowledge);
                }

                return count;
            }

            using (cancellationToken.UnsafeRegister(static (s, token) => ((MuxStream)s!).CancelRead(token), this))
            {
                await wait.Task;
            }
        }
    }

    /// <summary>Cancels the waiting read, unless bytes were already copied into its buffer: it returns those.</summary>
    private void CancelRead(CancellationToken token)
    {
        TaskCompletionSource? wait;
        lock (_lock)
        {
            if (_readFilled > 0)
            {
                return;
            }

            wait = _readWaiter;
            _readWaiter = null;
            _readBuffer = default;
        }

        wait?.TrySetCanceled(token);
    }

    /// <summary>Takes what the session's reader copied into <paramref name="destination"/> while this read waited, or
    /// copies what has arrived into it (<paramref name="count"/> bytes, 0 after the peer's FIN or for a zero-byte read
    /// when bytes are ready) and returns null; or, when nothing has arrived, registers the read and returns what the
    /// session's reader completes when something does. <paramref name="acknowledge"/> is the WINDOW increment to
    /// send once the lock is released.</summary>
    private TaskCompletionSource? TryRead(Memory<byte> destination, out int count, out int acknowledge)
    {
        acknowledge = 0;
        lock (_lock)
        {
            count = _readFilled;
            _readFilled = 0;
            _readBuffer = default;
            _readWaiter = null;
            if (count == 0 && _inbound.Count > 0 && !destination.IsEmpty)
            {
                count = CopyOutLocked(destination.Span);
            }

            if (count > 0)
            {
                acknowledge = Consumed(count);
                return null;
            }

            if (_inbound.Count > 0)
            {
                return null; // a zero-byte read: data is ready, and stays unread
            }

            if ((_state & Reset) != 0)
            {
                throw ResetException();
            }

            if ((_state & RemoteFin) != 0)
            {
                return null;
            }

            // Completed without forcing continuations off the completing thread: the session's reader hands the
            // bytes straight to the relay waiting for them.
            _readBuffer = destination;
            return _readWaiter = new TaskCompletionSource();
        }
    }

    private int CopyOutLocked(Span<byte> destination)
    {
        var count = 0;
        while (count < destination.Length && _inbound.TryPeek(out var chunk))
        {
            var n = Math.Min(destination.Length - count, chunk.Length);
            chunk.Buffer.AsSpan(chunk.Start, n).CopyTo(destination[count..]);
            count += n;
            if (!chunk.Consume(n))
            {
                _inbound.Dequeue();
                BufferPool.Shared.Return(chunk.Buffer);
            }
        }

        return count;
    }

    /// <summary>Under the lock: gives the peer window back in batches of a quarter of the window, not per read, and
    /// doubles the window when the relay has read everything that arrived. Returns the WINDOW increment to send
    /// once the lock is released, or 0.</summary>
    private int Consumed(int count)
    {
        var consumed = _consumedUnacknowledged + count;
        if (consumed < _receiveWindow / 4)
        {
            _consumedUnacknowledged = consumed;
            return 0;
        }

        _consumedUnacknowledged = 0;
        var growth = _inbound.Count == 0 ? Math.Clamp(_maxReceiveWindow - _receiveWindow, 0, _receiveWindow) : 0;
        _receiveWindow += growth;
        Interlocked.Add(ref _receivedUnacknowledged, -consumed);
        return (_state & (RemoteFin | Reset)) == 0 ? consumed + growth : 0;
    }

    /// <summary>From the session's reader: a DATA frame's payload. Returns the relay read to wake (once per read),
    /// for the session's reader to wake once it has handed out every frame that arrived with this one, so that the
    /// read finds them all.</summary>
    internal TaskCompletionSource? OnData(ReadOnlySpan<byte> payload)
    {
        lock (_lock)
        {
            if ((_state & Reset) != 0)
            {
                return null; // reset here while the bytes were on their way
            }

            if ((_state & RemoteFin) != 0 || Interlocked.Add(ref _receivedUnacknowledged, payload.Length) > _receiveWindow)
            {
                WakeLater(ResetLocked(new MuxProtocolException((_state & RemoteFin) != 0
                    ? $"stream {Id}: data after the peer's FIN"
                    : $"stream {Id}: the peer sent past its window of {_receiveWindow} bytes"), sendReset: true));
                return null;
            }

            TaskCompletionSource? wake;
            if (!_readBuffer.IsEmpty)
            {
                // Into the waiting read's buffer; woken once, by the first frame that fills any of it.
                wake = _readFilled == 0 ? _readWaiter : null;
                var n = Math.Min(payload.Length, _readBuffer.Length - _readFilled);
                payload[..n].CopyTo(_readBuffer.Span[_readFilled..]);
                _readFilled += n;
                payload = payload[n..];
            }
            else
            {
                wake = _readWaiter; // a zero-byte read, or none
                _readWaiter = null;
            }

            if (!payload.IsEmpty)
            {
                Append(payload);
            }

            return wake;
        }
    }

    /// <summary>Appends to the last chunk while it has room, else to a new pooled one.</summary>
    private void Append(ReadOnlySpan<byte> payload)
    {
        if (_inbound.Count > 0)
        {
            payload = payload[_tail!.Append(payload)..];
        }

        if (!payload.IsEmpty)
        {
            _tail = new Chunk(BufferPool.Shared.Rent(Math.Max(payload.Length, MinChunk)));
            _tail.Append(payload);
            _inbound.Enqueue(_tail);
        }
    }

    internal void OnRemoteFin()
    {
        TaskCompletionSource? wake;
        lock (_lock)
        {
            if ((_state & (RemoteFin | Reset)) != 0)
            {
                return;
            }

            _state |= RemoteFin;
            wake = _readWaiter;
            _readWaiter = null;
        }

        WakeLater(wake);
        if (Finished)
        {
            _session.Forget(this);
        }
    }

    /// <summary>Wakes a waiting reader on the thread pool: the end of a stream runs the relay's wrap-up (close lines,
    /// logs), which the session's reader should not wait for.</summary>
    private static void WakeLater(TaskCompletionSource? wake)
    {
        if (wake is not null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static w => w.TrySetResult(), wake, preferLocal: false);
        }
    }

    /// <summary>Received bytes waiting for the relay, in a pooled buffer.</summary>
    private sealed class Chunk(byte[] buffer)
    {
        public byte[] Buffer { get; } = buffer;

        public int Start { get; private set; }

        public int End { get; private set; }

        public int Length => End - Start;

        /// <summary>Takes what fits; returns how many bytes it took.</summary>
        public int Append(ReadOnlySpan<byte> data)
        {
            var n = Math.Min(data.Length, Buffer.Length - End);
            data[..n].CopyTo(Buffer.AsSpan(End));
            End += n;
            return n;
        }

        /// <summary>Drops <paramref name="count"/> read bytes; false once the chunk is empty.</summary>
        public bool Consume(int count)
        {
            Start += count;
            return Start < End;
        }
    }
}
