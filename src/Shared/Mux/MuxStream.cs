using Tunnel.Relay;

namespace Tunnel.Mux;

/// <summary>One tunneled TCP connection carried over a <see cref="MuxSession"/>: a byte stream each way with TCP's
/// semantics (half-close is a FIN frame, abort an RST frame) and its own flow-control window, so it is a relay
/// endpoint like a TLS or TCP side.</summary>
/// <remarks>
/// Received bytes are copied straight into the buffer of a relay read that is waiting; what does not fit (or arrives
/// while no read waits) waits in a queue of pooled chunks, held only while bytes are waiting, until the relay reads
/// it. The session's reader delivers without ever waiting, which the window makes safe: a peer cannot send more than
/// the receive window ahead of what was read. The window starts at <see cref="MuxProtocol.InitialWindow"/> and
/// doubles, up to the session's limit, each time consumed bytes are acknowledged while the relay has read everything
/// that arrived: a reader that keeps up gets a window wide enough for the path, a stalled one never makes it grow.
/// The queue and the waiting read are changed under the stream's lock, because both the session's reader and a local
/// abort complete them. A write becomes frames (a copy into a pooled frame buffer) as soon as window is available,
/// handed to the session's writer, so a relay never waits on another stream's bytes. A write that waits for window
/// is woken by the session's reader once it has handed out the WINDOW frame and those that came with it, and carries
/// on on the reader's thread, as a read given bytes does: in a bulk transfer the sender waits for window all the time,
/// and a hand-off to the thread pool for each wait moved its relay off the socket threads.
/// </remarks>
internal sealed class MuxStream : Stream, IRelayEndpoint
{
    private const int LocalFin = 1;
    private const int RemoteFin = 2;
    private const int Reset = 4;
    private const int Disposed = 8;
    private const int MinChunk = 4096;
    /// <summary>The relay's largest write (16 DATA frames): it leaves as one batch, in one socket write.</summary>
    private const int MaxWriteBatch = Relay.StreamPump.MaxBufferSize;

    private readonly MuxSession _session;
    private readonly int _maxReceiveWindow;
    private readonly Queue<Chunk> _inbound = new();
    private Chunk? _tail;
    // A relay read waiting for bytes, and its buffer, which the session's reader fills directly.
    private TaskCompletionSource? _readWaiter;
    private Memory<byte> _readBuffer;
    private int _readFilled;
    private readonly Lock _lock = new();
    private int _state;
    private int _sendWindow = MuxProtocol.InitialWindow;
    private TaskCompletionSource? _windowWaiter;
    private int _receiveWindow = MuxProtocol.InitialWindow;
    private int _receivedUnacknowledged;
    private int _consumedUnacknowledged;
    private bool _openPending;
    private Exception? _resetError;

    internal MuxStream(MuxSession session, uint id, bool openPending, int maxReceiveWindow)
    {
        _session = session;
        Id = id;
        _openPending = openPending;
        _maxReceiveWindow = maxReceiveWindow;
    }

    public uint Id { get; }

    /// <summary>How many bytes the peer may send ahead of what this side has read.</summary>
    internal int ReceiveWindow
    {
        get
        {
            lock (_lock)
            {
                return _receiveWindow;
            }
        }
    }

    /// <summary>Received bytes waiting for the relay to read them.</summary>
    internal int Buffered
    {
        get
        {
            lock (_lock)
            {
                var count = _readFilled;
                foreach (var chunk in _inbound)
                {
                    count += chunk.Length;
                }

                return count;
            }
        }
    }

    Stream IRelayEndpoint.Stream => this;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Both directions ended with a FIN: the stream closed cleanly.</summary>
    private bool Finished => (Volatile.Read(ref _state) & (LocalFin | RemoteFin)) == (LocalFin | RemoteFin);

    // ---------------------------------------------------------------------------------------------------------------
    // Reading: what the peer sent.
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

    internal void OnRemoteReset(string reason) => ResetFromPeer(new MuxStreamResetException(reason));

    internal void OnSessionLost(Exception error) => ResetFromPeer(error);

    private void ResetFromPeer(Exception error)
    {
        TaskCompletionSource? wake;
        lock (_lock)
        {
            wake = ResetLocked(error, sendReset: false);
        }

        WakeLater(wake);
    }

    /// <summary>Under the lock: marks the stream reset, drops what was received and fails a writer waiting for
    /// window. Returns the waiting reader, for the caller to wake outside the lock.</summary>
    private TaskCompletionSource? ResetLocked(Exception error, bool sendReset)
    {
        if ((_state & Reset) != 0)
        {
            return null;
        }

        var finished = (_state & (LocalFin | RemoteFin)) == (LocalFin | RemoteFin);
        _state |= Reset;
        _resetError = error;
        while (_inbound.TryDequeue(out var chunk))
        {
            BufferPool.Shared.Return(chunk.Buffer);
        }

        if (_windowWaiter is { } windowWait)
        {
            // Not here, under the lock: the waiting relay would carry on in it.
            _windowWaiter = null;
            ThreadPool.UnsafeQueueUserWorkItem(static w => w.Wait.TrySetException(w.Error), (Wait: windowWait, Error: error), preferLocal: false);
        }

        if (sendReset && !finished)
        {
            _session.SendReset(Id, error.Message, _openPending);
        }

        var wake = _readWaiter;
        _readWaiter = null;
        _readBuffer = default;
        _readFilled = 0;
        return wake;
    }

    private IOException ResetException() =>
        _resetError as IOException ?? new IOException(_resetError?.Message ?? "the stream was reset", _resetError);

    // ---------------------------------------------------------------------------------------------------------------
    // Writing: what goes to the peer.
    /// <summary>Up to <see cref="MaxWriteBatch"/> bytes (as window allows) go out as consecutive DATA frames in one
    /// buffer and one TLS write: the same records and sends as a plain connection's write of that size.</summary>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var count = await AcquireWindowAsync(Math.Min(buffer.Length, MaxWriteBatch), cancellationToken);
            var open = TakeOpenPending();
            var frames = (count + MuxProtocol.MaxDataPayload - 1) / MuxProtocol.MaxDataPayload;
            var length = (open ? MuxProtocol.HeaderSize : 0) + (frames * MuxProtocol.HeaderSize) + count;
            var batch = BufferPool.Shared.Rent(length);
            var at = 0;
            if (open)
            {
                MuxProtocol.WriteHeader(batch, MuxFrameType.Open, 0, Id);
                at = MuxProtocol.HeaderSize;
            }

            var data = buffer.Span[..count];
            while (!data.IsEmpty)
            {
                var n = Math.Min(data.Length, MuxProtocol.MaxDataPayload);
                MuxProtocol.WriteHeader(batch.AsSpan(at), MuxFrameType.Data, n, Id);
                data[..n].CopyTo(batch.AsSpan(at + MuxProtocol.HeaderSize));
                at += MuxProtocol.HeaderSize + n;
                data = data[n..];
            }

            await _session.SendAsync(batch, length, cancellationToken);
            buffer = buffer[count..];
        }
    }

    private async ValueTask<int> AcquireWindowAsync(int wanted, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if ((_state & Reset) != 0)
                {
                    throw ResetException();
                }

                if ((_state & LocalFin) != 0)
                {
                    throw new InvalidOperationException("write after the stream's end");
                }

                if (_sendWindow > 0)
                {
                    var granted = Math.Min(wanted, _sendWindow);
                    _sendWindow -= granted;
                    return granted;
                }

                // Completed by the session's reader once it has handed out the frames that came with the WINDOW, and
                // the relay carries on there, as a relay given bytes does: no hand-off to the thread pool per wait.
                _windowWaiter ??= new TaskCompletionSource();
                wait = _windowWaiter.Task;
            }

            using (cancellationToken.UnsafeRegister(static (s, token) => ((MuxStream)s!).CancelWindowWait(token), this))
            {
                await wait;
            }
        }
    }

    private void CancelWindowWait(CancellationToken token)
    {
        TaskCompletionSource? wait;
        lock (_lock)
        {
            wait = _windowWaiter;
            _windowWaiter = null;
        }

        wait?.TrySetCanceled(token);
    }

    private bool TakeOpenPending()
    {
        lock (_lock)
        {
            var open = _openPending;
            _openPending = false;
            return open;
        }
    }

    /// <summary>From the session's reader: the peer's WINDOW increment. Returns the relay waiting for window, for the
    /// session's reader to wake with the others once the frames that arrived together are handed out.</summary>
    internal TaskCompletionSource? OnWindowUpdate(int increment)
    {
        lock (_lock)
        {
            if ((long)_sendWindow + increment > int.MaxValue)
            {
                WakeLater(ResetLocked(new MuxProtocolException($"stream {Id}: window overflow"), sendReset: true));
                return null;
            }

            _sendWindow += increment;
            var wake = _windowWaiter;
            _windowWaiter = null;
            return wake;
        }
    }

    /// <summary>Half-close: a FIN frame after the bytes already queued. Idempotent.</summary>
    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken)
    {
        bool open;
        lock (_lock)
        {
            if ((_state & (LocalFin | Reset)) != 0)
            {
                return (_state & Reset) != 0 ? ValueTask.FromException(ResetException()) : ValueTask.CompletedTask;
            }

            _state |= LocalFin;
            open = _openPending;
            _openPending = false;
        }

        _session.SendFin(Id, open);
        if (Finished)
        {
            _session.Forget(this);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Resets the stream (an RST frame): the peer cannot mistake a truncated stream for a complete one.</summary>
    public void Abort() => Abort("the stream was aborted");

    /// <summary>Resets the stream with a reason the peer logs (and, on the client, puts in a 502).</summary>
    public void Abort(string reason)
    {
        TaskCompletionSource? wake;
        lock (_lock)
        {
            wake = ResetLocked(new IOException(reason), sendReset: true);
        }

        WakeLater(wake);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && (Interlocked.Or(ref _state, Disposed) & Disposed) == 0)
        {
            if (!Finished)
            {
                Abort();
            }

            lock (_lock)
            {
                while (_inbound.TryDequeue(out var chunk))
                {
                    BufferPool.Shared.Return(chunk.Buffer);
                }
            }

            _session.Forget(this);
        }

        base.Dispose(disposing);
    }

    // Stream.DisposeAsync calls Dispose(true): nothing here waits.

    // ---------------------------------------------------------------------------------------------------------------
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

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
