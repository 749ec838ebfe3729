using Tunnel.Common;

namespace Tunnel.Balancing;

/// <summary>Active health: probes every backend of a pool periodically (a TLS handshake for tunnel-servers, a TCP
/// connect for upstream proxies). Two failed probes in a row isolate a backend; one success re-admits it.</summary>
internal sealed class HealthProber : IDisposable
{
    private const int FailuresToIsolate = 2;

    private readonly BackendPool _pool;
    private readonly Func<Backend, CancellationToken, Task> _probe;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly Dictionary<Backend, int> _failures = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly ITimer _timer;
    private int _running;

    public HealthProber(BackendPool pool, Func<Backend, CancellationToken, Task> probe, TimeSpan timeout, TimeProvider time)
    {
        _pool = pool;
        _probe = probe;
        _timeout = timeout;
        _time = time;
        foreach (var backend in pool.Backends)
        {
            _failures[backend] = 0;
        }

        _interval = pool.Options.HealthCheckInterval;
        _timer = time.CreateTimer(static s => ((HealthProber)s!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    private readonly TimeSpan _interval;

    /// <summary>Probes, then schedules the next round with ±10 % jitter: probes from many sites do not arrive in
    /// step, and the pattern on the wire is less regular.</summary>
    private void Tick()
    {
        _ = ProbeAllAsync();
        var jitter = 0.9 + (Random.Shared.NextDouble() * 0.2);
        try
        {
            _timer.Change(_interval * jitter, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Probes every backend once (also used by tests and at start-up).</summary>
    public async Task ProbeAllAsync()
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            return; // the previous round is still running (slow or black-holed backends)
        }

        try
        {
            await Task.WhenAll(_pool.Backends.Select(ProbeAsync));
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    private async Task ProbeAsync(Backend backend)
    {
        using var scope = new Net.TimeoutScope(_timeout, _time, _stop.Token);
        try
        {
            await _probe(backend, scope.Token);
            lock (_failures)
            {
                _failures[backend] = 0;
            }

            await backend.SetProbeResultAsync(up: true, null);
        }
        catch (Exception ex) when (!_stop.IsCancellationRequested)
        {
            int failures;
            lock (_failures)
            {
                failures = ++_failures[backend];
            }

            var error = scope.TimedOut ? $"no answer within {Durations.Format(_timeout)}" : Net.SocketErrors.Describe(ex);
            if (failures >= FailuresToIsolate)
            {
                await backend.SetProbeResultAsync(up: false, error);
            }
            else
            {
                backend.RecordFailure(error);
            }
        }
        catch (Exception)
        {
            // Shutting down: the result no longer matters.
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        _stop.Cancel();
        _stop.Dispose();
    }
}
