using Microsoft.Extensions.Logging;
using Tunnel.Client.Options;
using Tunnel.Metrics;

namespace Tunnel.Client.Dialing;

/// <summary>Keeps at least <see cref="PoolOptions.Size"/> verified TLS connections ready, refilling in the background
/// through the balancer. A take that finds the pool empty grows it by one, up to <see cref="GrowthFactor"/> times its
/// size, and each connection that reaches its age unused shrinks it back by one: the pool follows the rate of new
/// connections, and an idle tunnel keeps only <see cref="PoolOptions.Size"/>. Each idle connection keeps a zero-byte
/// read pending, so one the server closes leaves the pool at once; one older than <see cref="PoolOptions.MaxAge"/> is
/// replaced. The server dials its upstream only on the first byte, so idle pooled connections cost the upstream proxy
/// nothing.</summary>
internal sealed partial class WarmPool : IAsyncDisposable
{
    /// <summary>How far a busy pool may grow over its configured size.</summary>
    public const int GrowthFactor = 4;

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly Func<CancellationToken, Task<ServerConnection>> _connect;
    private readonly PoolOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _tunnel;
    private readonly Lock _lock = new();
    private readonly LinkedList<Entry> _idle = new();
    private readonly SemaphoreSlim _refill = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Counter _hits;
    private readonly Counter _misses;
    private readonly Counter _stale;
    private readonly HashSet<Task> _attempts = [];
    private readonly Task _filler;
    private int _target;
    private TimeSpan _backoff;
    private long _retryAt;

    public WarmPool(string tunnel, Func<CancellationToken, Task<ServerConnection>> connect, PoolOptions options, TunnelMetrics metrics,
        ILogger logger, TimeProvider time)
    {
        _tunnel = tunnel;
        _connect = connect;
        _options = options;
        _logger = logger;
        _time = time;
        _target = options.Size;
        var takes = metrics.PoolTakes();
        _hits = takes.WithLabels(tunnel, "hit");
        _misses = takes.WithLabels(tunnel, "miss");
        _stale = takes.WithLabels(tunnel, "stale");
        var idle = metrics.PoolIdle().WithLabels(tunnel);
        var target = metrics.PoolTarget().WithLabels(tunnel);
        metrics.Registry.OnCollect(() =>
        {
            idle.Set(Idle);
            target.Set(Target);
        });
        _filler = Task.Run(FillAsync);
    }

    /// <summary>Connections the pool keeps ready now: its size, grown by misses (see the class summary).</summary>
    public int Target
    {
        get
        {
            lock (_lock)
            {
                return _target;
            }
        }
    }

    public int Idle
    {
        get
        {
            lock (_lock)
            {
                return _idle.Count;
            }
        }
    }

    /// <summary>A ready connection, or null when the pool is empty (the caller connects directly).</summary>
    public ServerConnection? TryTake()
    {
        while (true)
        {
            Entry? entry;
            lock (_lock)
            {
                if (_idle.First is not { } first)
                {
                    _target = Math.Min(_target + 1, _options.Size * GrowthFactor);
                    _misses.Increment();
                    _refill.Release();
                    return null;
                }

                entry = first.Value;
                _idle.RemoveFirst();
            }

            _refill.Release();
            if (entry.PendingRead.IsCompleted || _time.GetElapsedTime(entry.Created) > entry.Lifetime)
            {
                // Closed by the server, or too old to trust the path to still hold it.
                _stale.Increment();
                Discard(entry.Connection);
                continue;
            }

            _hits.Increment();
            return entry.Connection with
            {
                Relay = new PendingReadEndpoint(entry.Connection.Endpoint, entry.PendingRead),
                Pooled = true,
            };
        }
    }

    /// <summary>Starts as many connections as the pool is short of, all at once, then waits for a take, a close, a
    /// finished attempt or the age check. One at a time, a pool that requests drain faster than one handshake (one
    /// connection after another at full speed, a burst) stays short, and every request that finds it empty pays the
    /// handshake itself: about a fifth of them at one connection at a time in the benchmark.</summary>
    private async Task FillAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (RetryIn() is { } wait)
                {
                    await Task.Delay(wait, _time, _stop.Token);
                    continue;
                }

                // An attempt can fail before it yields (no server to try): its backoff stops the loop.
                while (Idle + Attempts < Target && RetryIn() is null && !_stop.IsCancellationRequested)
                {
                    Track(EstablishAsync());
                }

                // Wake when a connection is taken, leaves or is established, or to replace aged ones.
                await _refill.WaitAsync(_options.MaxAge / 4, _stop.Token);
                ExpireAged();
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>One connection for the pool; a failure holds back further attempts with a growing backoff.</summary>
    private async Task EstablishAsync()
    {
        try
        {
            Add(await _connect(_stop.Token));
            lock (_lock)
            {
                _backoff = TimeSpan.Zero;
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (Exception ex)
        {
            TimeSpan backoff;
            lock (_lock)
            {
                // Attempts that fail together (the server is down) count as one failure.
                if (_time.GetTimestamp() >= _retryAt)
                {
                    _backoff = _backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, MaxBackoff.Ticks));
                    _retryAt = _time.GetTimestamp() + (long)(_backoff.TotalSeconds * _time.TimestampFrequency);
                }

                backoff = _backoff;
            }

            LogRefillFailed(_logger, _tunnel, Net.SocketErrors.Describe(ex), backoff.TotalSeconds);
        }
    }

    /// <summary>How long to wait before the next attempt after failures, or null to go ahead.</summary>
    private TimeSpan? RetryIn()
    {
        lock (_lock)
        {
            var left = _retryAt - _time.GetTimestamp();
            return _backoff == TimeSpan.Zero || left <= 0 ? null : TimeSpan.FromSeconds((double)left / _time.TimestampFrequency);
        }
    }

    /// <summary>Attempts in flight, counted until they have added their connection (or failed).</summary>
    private int Attempts
    {
        get
        {
            lock (_lock)
            {
                return _attempts.Count;
            }
        }
    }

    /// <summary>Counts <paramref name="attempt"/> in <see cref="Attempts"/> until it ends, then wakes the filler. One that
    /// ended before it gets here (failed before it yielded) is counted and let go at once.</summary>
    private void Track(Task attempt)
    {
        lock (_lock)
        {
            _attempts.Add(attempt);
        }

        _ = attempt.ContinueWith(
            static (task, state) =>
            {
                var pool = (WarmPool)state!;
                lock (pool._lock)
                {
                    pool._attempts.Remove(task);
                }

                try
                {
                    pool._refill.Release();
                }
                catch (ObjectDisposedException)
                {
                    // The pool is shutting down.
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void Add(ServerConnection connection)
    {
        if (_stop.IsCancellationRequested)
        {
            Discard(connection);
            return;
        }

#pragma warning disable CA2022 // A zero-byte read returns no data by design: it only watches for the server closing.
        var pending = connection.Endpoint.Stream.ReadAsync(Memory<byte>.Empty).AsTask();
#pragma warning restore CA2022
        // Each connection gets a slightly different age limit, so the pool does not recycle in a regular beat.
        var lifetime = _options.MaxAge * (0.8 + (Random.Shared.NextDouble() * 0.2));
        var entry = new Entry(connection, pending, _time.GetTimestamp(), lifetime);
        LinkedListNode<Entry> node;
        lock (_lock)
        {
            node = _idle.AddLast(entry);
        }

        _ = pending.ContinueWith(
            static (task, state) =>
            {
                _ = task.Exception; // observed: a reset while pooled is routine
                var (pool, n) = ((WarmPool, LinkedListNode<Entry>))state!;
                pool.RemoveClosed(n);
            },
            (this, node),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>The server closed (or wrote to) an idle pooled connection: it leaves the pool.</summary>
    private void RemoveClosed(LinkedListNode<Entry> node)
    {
        lock (_lock)
        {
            if (node.List is null)
            {
                return; // already taken
            }

            _idle.Remove(node);
        }

        Discard(node.Value.Connection);
        try
        {
            _refill.Release();
        }
        catch (ObjectDisposedException)
        {
            // The pool is shutting down.
        }
    }

    private void ExpireAged()
    {
        List<Entry> aged;
        lock (_lock)
        {
            aged = _idle.Where(e => _time.GetElapsedTime(e.Created) > e.Lifetime).ToList();
            foreach (var entry in aged)
            {
                _idle.Remove(entry);
            }

            // Connections nobody took for a whole lifetime: the pool is bigger than the load needs.
            _target = Math.Max(_options.Size, _target - aged.Count);
        }

        foreach (var entry in aged)
        {
            Discard(entry.Connection);
        }
    }

    private static void Discard(ServerConnection connection)
    {
        connection.Dispose();
        _ = connection.Endpoint.DisposeAsync().AsTask();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _filler;
        }
        catch (OperationCanceledException)
        {
        }

        Task[] attempts;
        lock (_lock)
        {
            attempts = [.. _attempts];
        }

        await Task.WhenAll(attempts); // they catch their own failures

        List<Entry> idle;
        lock (_lock)
        {
            idle = [.. _idle];
            _idle.Clear();
        }

        foreach (var entry in idle)
        {
            Discard(entry.Connection);
        }

        _refill.Dispose();
        _stop.Dispose();
    }

    private sealed record Entry(ServerConnection Connection, Task PendingRead, long Created, TimeSpan Lifetime);

    [LoggerMessage(EventId = 410, EventName = "PoolRefillFailed", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel}: warm pool could not open a connection ({Error}); retrying in {Seconds}s")]
    private static partial void LogRefillFailed(ILogger logger, string tunnel, string error, double seconds);
}
