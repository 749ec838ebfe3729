using System.Text;
using Tunnel.Relay;

namespace Tunnel.Mux;

/// <summary>One TLS connection carrying many streams (<see cref="MuxStream"/>): the client opens streams, the server
/// is handed each new one. One reader dispatches frames to their streams; one writer sends the frames every stream
/// queues, several small ones in one TLS record when they are waiting together.</summary>
/// <remarks>
/// A relay's frames are written by the relay's own thread when no write is in progress (one TLS write for all of
/// them), and otherwise join an outbox that the current writer drains. So are the control frames a relay sends
/// outside any lock (WINDOW after it read, FIN when its side ended); the others (RST, GOAWAY, the acknowledgement)
/// are drained on the thread pool. Nothing is written under a lock a cancellation could break: a stream's relay is
/// never cancelled in the middle of a TLS record (which would break the connection for every stream), and an
/// aborting stream never waits behind another's bytes. The outbox (<see cref="MuxFrameWriter"/>) is bounded:
/// beyond it, streams queueing DATA wait for the writer. When the connection fails, every open stream is reset
/// with the reason, as their own TLS connections would have been.
/// </remarks>
internal sealed class MuxSession : IAsyncDisposable
{
    /// <summary>Sixteen full frames: a stream's largest write (<see cref="Relay.StreamPump.MaxBufferSize"/>) arrives
    /// in one piece when its records are all here.</summary>
    private const int ReadBufferSize = 256 * 1024;
    /// <summary>How long a close waits for queued frames, and then for the peer's own close: short, because a process
    /// that stops closes its connections this way.</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(1);

    private readonly TlsEndpoint _transport;

    // The reader's: relays given bytes or window by the frames being handed out, woken once they all are.
    private readonly List<TaskCompletionSource> _relaysToWake = [];
    private readonly bool _isClient;
    private readonly int _maxStreams;
    private readonly int _maxReceiveWindow;
    private readonly Func<MuxStream, Task>? _onStream;
    private readonly TimeProvider _time;
    private readonly MuxFrameWriter _writer;
    private readonly Dictionary<uint, MuxStream> _streams = [];
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _goAway = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _emptied;
    private uint _nextId = 1;
    private long _idleSince;
    private int _goAwaySent;
    private int _disposed;
    private Task _reader = Task.CompletedTask;

    private MuxSession(TlsEndpoint transport, bool isClient, int maxStreams, Func<MuxStream, Task>? onStream, TimeProvider time, int maxReceiveWindow)
    {
        // Before any of the session's own reads and writes. A multiplexed connection is busy and one of a few: freeing
        // its record buffers whenever it drains saves nothing worth having (docs/operations.md, "Memory").
        transport.KeepBuffers();
        _transport = transport;
        _isClient = isClient;
        _maxStreams = maxStreams;
        _maxReceiveWindow = maxReceiveWindow;
        _onStream = onStream;
        _time = time;
        _idleSince = time.GetTimestamp();
        _writer = new MuxFrameWriter(transport, Terminate);
    }

    /// <summary>The TLS connection underneath.</summary>
    public TlsEndpoint Transport => _transport;

    /// <summary>Completes when the connection has ended, cleanly or not; <see cref="Error"/> says why.</summary>
    public Task Closed => _closed.Task;

    /// <summary>Completes when the server asked for no more streams on this connection.</summary>
    public Task GoAwayReceived => _goAway.Task;

    public Exception? Error { get; private set; }

    public int StreamCount
    {
        get
        {
            lock (_lock)
            {
                return _streams.Count;
            }
        }
    }

    /// <summary>How long the connection has carried no stream (zero while it carries one).</summary>
    public TimeSpan IdleFor
    {
        get
        {
            lock (_lock)
            {
                return _streams.Count > 0 ? TimeSpan.Zero : _time.GetElapsedTime(_idleSince);
            }
        }
    }

    /// <summary>True while new streams may be opened here (client side).</summary>
    public bool CanOpen => !_closed.Task.IsCompleted && !_goAway.Task.IsCompleted && StreamCount < _maxStreams;

    /// <summary>Client side: sends the preamble on a fresh TLS connection and waits for the server's acknowledgement.
    /// Throws <see cref="MuxNotSupportedException"/> when the server answers anything else or closes.
    /// <paramref name="maxReceiveWindow"/> limits how far a stream's receive window grows (tests set it to
    /// <see cref="MuxProtocol.InitialWindow"/> to stand for a peer that never grows it).</summary>
    public static async Task<MuxSession> ConnectAsync(TlsEndpoint transport, int maxStreams, TimeProvider time, CancellationToken cancellationToken,
        int maxReceiveWindow = MuxProtocol.MaxReceiveWindow)
    {
        await MuxPreamble.ExchangeAsync(transport, cancellationToken);
        var session = new MuxSession(transport, isClient: true, maxStreams, onStream: null, time, maxReceiveWindow);
        session.Start(ReadOnlyMemory<byte>.Empty);
        return session;
    }

    /// <summary>Server side: the client's first bytes began with the preamble. Acknowledges it and starts serving streams;
    /// <paramref name="afterPreamble"/> are bytes that came with it.</summary>
    public static MuxSession Accept(TlsEndpoint transport, ReadOnlyMemory<byte> afterPreamble, int maxStreams, Func<MuxStream, Task> onStream, TimeProvider time,
        int maxReceiveWindow = MuxProtocol.MaxReceiveWindow)
    {
        var session = new MuxSession(transport, isClient: false, maxStreams, onStream, time, maxReceiveWindow);
        session.Post(MuxPreamble.Acknowledgement(), MuxProtocol.Acknowledgement.Length);
        session.Start(afterPreamble);
        return session;
    }

    private void Start(ReadOnlyMemory<byte> initial)
    {
        var copy = initial.ToArray();
        _reader = Task.Run(() => ReadLoopAsync(copy));
    }

    /// <summary>Client side: a new stream. Its OPEN frame goes out with its first bytes (or its FIN).</summary>
    public MuxStream Open()
    {
        lock (_lock)
        {
            if (_closed.Task.IsCompleted)
            {
                throw new IOException("the multiplexed connection is closed", Error);
            }

            var stream = new MuxStream(this, _nextId, openPending: true, _maxReceiveWindow);
            _nextId += 2;
            _streams.Add(stream.Id, stream);
            return stream;
        }
    }

    /// <summary>Server side: asks the client to open no more streams here (a drain). Idempotent.</summary>
    public void SendGoAway()
    {
        if (Interlocked.Exchange(ref _goAwaySent, 1) == 0)
        {
            EnqueueControl(MuxFrameType.GoAway, 0, ReadOnlySpan<byte>.Empty);
        }
    }

    /// <summary>Completes once no stream is open.</summary>
    public Task WhenEmptyAsync()
    {
        lock (_lock)
        {
            if (_streams.Count == 0 || _closed.Task.IsCompleted)
            {
                return Task.CompletedTask;
            }

            _emptied ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _emptied.Task;
        }
    }

    /// <summary>Sends a DATA frame (a pooled buffer, returned once written): see <see cref="MuxFrameWriter.SendAsync"/>.</summary>
    internal ValueTask SendAsync(byte[] frame, int length, CancellationToken cancellationToken) => _writer.SendAsync(frame, length, cancellationToken);

    /// <summary>Queues a frame without waiting for it to be written: see <see cref="MuxFrameWriter.Post"/>.</summary>
    private void Post(byte[] frame, int length, bool inline = false) => _writer.Post(frame, length, inline);

    /// <summary>From a relay's read, outside the stream's lock.</summary>
    internal void SendWindowUpdate(uint id, int increment)
    {
        Span<byte> payload = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(payload, increment);
        EnqueueControl(MuxFrameType.Window, id, payload, inline: true);
    }

    /// <summary>From a relay whose side ended, outside the stream's lock.</summary>
    internal void SendFin(uint id, bool openFirst) => EnqueueControl(MuxFrameType.Fin, id, ReadOnlySpan<byte>.Empty, inline: true, openFirst);

    internal void SendReset(uint id, string reason, bool neverOpened)
    {
        if (neverOpened)
        {
            return; // the server never heard of it
        }

        var text = Encoding.UTF8.GetBytes(reason.Length > 200 ? reason[..200] : reason);
        EnqueueControl(MuxFrameType.Reset, id, text);
    }

    private void EnqueueControl(MuxFrameType type, uint id, ReadOnlySpan<byte> payload, bool inline = false, bool openFirst = false)
    {
        var prefix = openFirst ? MuxProtocol.HeaderSize : 0;
        var length = prefix + MuxProtocol.HeaderSize + payload.Length;
        var frame = BufferPool.Shared.Rent(length);
        if (openFirst)
        {
            MuxProtocol.WriteHeader(frame, MuxFrameType.Open, 0, id);
        }

        MuxProtocol.WriteHeader(frame.AsSpan(prefix), type, payload.Length, id);
        payload.CopyTo(frame.AsSpan(prefix + MuxProtocol.HeaderSize));
        Post(frame, length, inline);
    }

    /// <summary>A stream is done (disposed, or ended both ways): it leaves the table.</summary>
    internal void Forget(MuxStream stream)
    {
        TaskCompletionSource? emptied = null;
        lock (_lock)
        {
            if (!_streams.Remove(stream.Id, out var found))
            {
                return;
            }

            if (!ReferenceEquals(found, stream))
            {
                _streams[stream.Id] = found;
                return;
            }

            if (_streams.Count == 0)
            {
                _idleSince = _time.GetTimestamp();
                emptied = _emptied;
                _emptied = null;
            }
        }

        emptied?.TrySetResult();
    }

    private async Task ReadLoopAsync(byte[] initial)
    {
        var buffer = new byte[ReadBufferSize];
        initial.CopyTo(buffer, 0);
        var start = 0;
        var end = initial.Length;
        var ended = false;
        var ahead = _transport.Stream as IReadAhead;
        Exception? error = null;
        try
        {
            while (true)
            {
                while (end - start >= MuxProtocol.HeaderSize)
                {
                    var (type, length, id) = MuxProtocol.ReadHeader(buffer.AsSpan(start));
                    var limit = type == MuxFrameType.Data ? MuxProtocol.MaxDataPayload : MuxProtocol.MaxControlPayload;
                    if (length > limit)
                    {
                        throw new MuxProtocolException($"a {type} frame of {length} bytes (at most {limit})");
                    }

                    if (end - start < MuxProtocol.HeaderSize + length)
                    {
                        break;
                    }

                    Dispatch(type, id, buffer.AsSpan(start + MuxProtocol.HeaderSize, length));
                    start += MuxProtocol.HeaderSize + length;
                }

                WakeRelays();

                if (ended)
                {
                    if (end > start)
                    {
                        throw new MuxProtocolException("the connection ended in the middle of a frame");
                    }

                    break;
                }

                if (start == end)
                {
                    start = end = 0;
                }
                else if (buffer.Length - end < MuxProtocol.HeaderSize + MuxProtocol.MaxDataPayload)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    end -= start;
                    start = 0;
                }

                // Records that have already arrived are read too, so that their frames are handed out together.
                do
                {
                    var read = await _transport.Stream.ReadAsync(buffer.AsMemory(end));
                    ended = read == 0;
                    end += read;
                }
                while (!ended && buffer.Length - end >= MuxProtocol.HeaderSize + MuxProtocol.MaxDataPayload && ahead is { MoreIsHere: true });
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        WakeRelays();
        Terminate(error);
    }

    /// <summary>Wakes the relays that were given bytes (each writes all the frames of its stream that arrived together
    /// in one write) or window (each sends what waited for it): each continues here, on the reader's thread.</summary>
    private void WakeRelays()
    {
        foreach (var wake in _relaysToWake)
        {
            wake.TrySetResult();
        }

        _relaysToWake.Clear();
    }

    private void Dispatch(MuxFrameType type, uint id, ReadOnlySpan<byte> payload)
    {
        switch (type)
        {
            case MuxFrameType.Open when !_isClient:
                Accepted(id);
                break;
            case MuxFrameType.Data:
                if (Find(id)?.OnData(payload) is { } wake)
                {
                    _relaysToWake.Add(wake);
                }

                break;
            case MuxFrameType.Fin:
                Find(id)?.OnRemoteFin();
                break;
            case MuxFrameType.Reset:
                Find(id)?.OnRemoteReset($"reset by the {(_isClient ? "tunnel-server" : "tunnel-client")}: {Encoding.UTF8.GetString(payload)}");
                break;
            case MuxFrameType.Window when payload.Length == 4:
                if (Find(id)?.OnWindowUpdate(System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(payload)) is { } writer)
                {
                    _relaysToWake.Add(writer);
                }

                break;
            case MuxFrameType.GoAway when _isClient:
                _goAway.TrySetResult();
                break;
            default:
                throw new MuxProtocolException($"unexpected {type} frame (stream {id}, {payload.Length} bytes)");
        }
    }

    private MuxStream? Find(uint id)
    {
        lock (_lock)
        {
            return _streams.GetValueOrDefault(id);
        }
    }

    private void Accepted(uint id)
    {
        MuxStream? stream = null;
        lock (_lock)
        {
            // Ids are the client's (odd) and never reused, but they need not arrive in order: a stream's OPEN goes
            // out with its first bytes, and streams opened together get their first bytes in any order.
            if (id % 2 == 0 || _streams.ContainsKey(id))
            {
                throw new MuxProtocolException($"OPEN of stream {id}, which is {(id % 2 == 0 ? "not a client's id" : "already open")}");
            }

            if (_streams.Count < _maxStreams)
            {
                stream = new MuxStream(this, id, openPending: false, _maxReceiveWindow);
                _streams.Add(id, stream);
            }
        }

        if (stream is null)
        {
            SendReset(id, $"tunnel-server carries at most {_maxStreams} streams on one connection", neverOpened: false);
            return;
        }

        _ = Task.Run(() => _onStream!(stream));
    }

    /// <summary>The connection ended (error is null for a clean end): every stream still open is reset.</summary>
    private void Terminate(Exception? error)
    {
        List<MuxStream> open;
        TaskCompletionSource? emptied;
        lock (_lock)
        {
            if (_closed.Task.IsCompleted)
            {
                return;
            }

            Error = error;
            open = [.. _streams.Values];
            _streams.Clear();
            emptied = _emptied;
            _emptied = null;
            _closed.TrySetResult();
        }

        _writer.Close(error);

        var lost = new MuxStreamResetException(error is null
            ? "the multiplexed TLS connection was closed"
            : $"the multiplexed TLS connection failed: {Net.SocketErrors.Describe(error)}", error);
        foreach (var stream in open)
        {
            stream.OnSessionLost(lost);
        }

        emptied?.TrySetResult();
        if (error is not null)
        {
            _transport.Abort();
        }
    }

    /// <summary>Closes the connection: queued frames are sent, then close_notify, and the peer gets a moment to
    /// answer with its own. Streams still open are reset.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        var clean = !_closed.Task.IsCompleted;
        try
        {
            await _writer.CloseAsync().WaitAsync(CloseGrace, _time);
            if (clean)
            {
                await _transport.CompleteWritesAsync(CancellationToken.None).AsTask().WaitAsync(CloseGrace, _time);
                await _reader.WaitAsync(CloseGrace, _time);
            }
        }
        catch (Exception ex) when (ex is TimeoutException or IOException or ObjectDisposedException or System.Net.Sockets.SocketException
            or InvalidOperationException or NotSupportedException)
        {
            _transport.Abort();
        }

        Terminate(null);
        await _transport.DisposeAsync();
        try
        {
            await _reader.WaitAsync(CloseGrace, _time);
        }
        catch (TimeoutException)
        {
        }
    }
}

/// <summary>The server did not take up multiplexing (it is not a tunnel-server, or one that refuses it).</summary>
internal sealed class MuxNotSupportedException(string message) : IOException(message);
