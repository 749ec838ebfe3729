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
/// Reading is in MuxStream.Receive.cs, writing in MuxStream.Send.cs; the state, resets and disposal are here.
/// </remarks>
internal sealed partial class MuxStream : Stream, IRelayEndpoint
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
}
