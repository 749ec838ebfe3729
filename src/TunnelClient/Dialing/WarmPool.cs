using Microsoft.Extensions.Logging;
using Tunnel.Client.Options;
using Tunnel.Metrics;

namespace Tunnel.Client.Dialing;

/// <summary>Keeps <see cref="PoolOptions.Size"/> verified TLS connections ready, refilling in the background through
/// the balancer. Each idle connection keeps a zero-byte read pending, so one the server closes leaves the pool at
/// once; one older than <see cref="PoolOptions.MaxAge"/> is replaced. The server dials its upstream only on the
/// first byte, so idle pooled connections cost the upstream proxy nothing.</summary>
internal sealed partial class WarmPool : IAsyncDisposable
{
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
    private readonly Task _filler;
    private int _establishing;

    public WarmPool(string tunnel, Func<CancellationToken, Task<ServerConnection>> connect, PoolOptions options, TunnelMetrics metrics,
        ILogger logger, TimeProvider time)
    {
        _tunnel = tunnel;
        _connect = connect;
        _options = options;
        _logger = logger;
        _time = time;
        var takes = metrics.PoolTakes();
        _hits = takes.WithLabels(tunnel, "hit");
        _misses = takes.WithLabels(tunnel, "miss");
        _stale = takes.WithLabels(tunnel, "stale");
        var idle = metrics.PoolIdle().WithLabels(tunnel);
        metrics.Registry.OnCollect(() => idle.Set(Idle));
        _filler = Task.Run(FillAsync);
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

    private async Task FillAsync()
    {
        var backoff = TimeSpan.Zero;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                while (Idle + Volatile.Read(ref _establishing) < _options.Size && !_stop.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _establishing);
                    try
                    {
                        Add(await _connect(_stop.Token));
                        backoff = TimeSpan.Zero;
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _establishing);
                    }
                }

                // Wake when a connection is taken or leaves, or to replace aged ones.
                await _refill.WaitAsync(_options.MaxAge / 4, _stop.Token);
                ExpireAged();
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                LogRefillFailed(_logger, _tunnel, Net.SocketErrors.Describe(ex), backoff.TotalSeconds);
                try
                {
                    await Task.Delay(backoff, _time, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void Add(ServerConnection connection)
    {
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
