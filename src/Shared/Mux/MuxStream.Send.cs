using Tunnel.Relay;

namespace Tunnel.Mux;

/// <summary>Writing: the relay's writes as DATA frames within the peer's window, and the half-close.</summary>
internal sealed partial class MuxStream
{
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
}
