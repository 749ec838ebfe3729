namespace Tunnel.Net;

/// <summary>A cap on concurrent connections, taken before accept() so that excess connections wait in the kernel
/// backlog instead of being accepted and dropped (ghostunnel does the same; stunnel accepts and then closes).</summary>
/// <remarks>Counted in descriptors, since what the cap protects is the open-file limit: a relayed connection holds two
/// (the accepted one and the one dialled), a multiplexed stream one (its upstream connection; the client's side is the
/// shared TLS connection). <see cref="Limit"/> relayed connections, or twice as many streams, fit.</remarks>
internal sealed class ConnectionLimiter : IDisposable
{
    private readonly SemaphoreSlim _descriptors;

    public ConnectionLimiter(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        Limit = limit;
        _descriptors = new SemaphoreSlim(limit * 2, limit * 2);
    }

    /// <summary>maxConnections: relayed connections.</summary>
    public int Limit { get; }

    /// <summary>Connections' worth of descriptors in use (a stream counts half).</summary>
    public int InUse => ((Limit * 2) - _descriptors.CurrentCount + 1) / 2;

    /// <summary>Waits for room for one relayed connection (two descriptors).</summary>
    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        await _descriptors.WaitAsync(cancellationToken);
        try
        {
            await _descriptors.WaitAsync(cancellationToken);
        }
        catch
        {
            _descriptors.Release();
            throw;
        }
    }

    /// <summary>Takes room for one relayed connection if there is some now, without waiting.</summary>
    public bool TryWait()
    {
        if (!_descriptors.Wait(0))
        {
            return false;
        }

        if (_descriptors.Wait(0))
        {
            return true;
        }

        _descriptors.Release();
        return false;
    }

    public void Release() => _descriptors.Release(2);

    /// <summary>Takes room for one multiplexed stream (one descriptor) if there is any, without waiting: a stream
    /// has no kernel backlog to wait in. Disposing the lease (once or more) gives the room back.</summary>
    public IDisposable? TryAcquireStream() => _descriptors.Wait(0) ? new StreamLease(_descriptors) : null;

    private sealed class StreamLease(SemaphoreSlim descriptors) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                descriptors.Release();
            }
        }
    }

    public void Dispose() => _descriptors.Dispose();
}
