namespace Tunnel.Net;

/// <summary>A cap on concurrent connections per key (a client address, a client identity). Keys with no connection
/// are forgotten, so the table holds only what is open.</summary>
internal sealed class KeyedConnectionLimiter<TKey>(int limit)
    where TKey : notnull
{
    private readonly Dictionary<TKey, int> _counts = [];
    private readonly Lock _lock = new();

    public int Limit => limit;

    /// <summary>Connections now held under <paramref name="key"/>.</summary>
    public int Count(TKey key)
    {
        lock (_lock)
        {
            return _counts.GetValueOrDefault(key);
        }
    }

    /// <summary>A lease to dispose when the connection ends, or null when <paramref name="key"/> already holds
    /// <see cref="Limit"/> connections.</summary>
    public IDisposable? TryAcquire(TKey key)
    {
        lock (_lock)
        {
            var count = _counts.GetValueOrDefault(key);
            if (count >= limit)
            {
                return null;
            }

            _counts[key] = count + 1;
        }

        return new Lease(this, key);
    }

    private void Release(TKey key)
    {
        lock (_lock)
        {
            var count = _counts[key] - 1;
            if (count == 0)
            {
                _counts.Remove(key);
            }
            else
            {
                _counts[key] = count;
            }
        }
    }

    private sealed class Lease(KeyedConnectionLimiter<TKey> owner, TKey key) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(key);
            }
        }
    }
}
