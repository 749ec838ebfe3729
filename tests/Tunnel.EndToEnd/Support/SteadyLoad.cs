using System.Diagnostics;
using System.Globalization;

namespace Tunnel.EndToEnd.Support;

/// <summary>One connection of a <see cref="SteadyLoad"/>, filled in by its exchange as it goes.</summary>
internal sealed class LoadAttempt
{
    public required int Index { get; init; }

    /// <summary>Unique in the test: what the connection announces to the upstream.</summary>
    public required string Id { get; init; }

    /// <summary>When it started, on the load's clock.</summary>
    public required TimeSpan Started { get; init; }

    /// <summary>When it started, on the wall clock the daemons' log lines carry.</summary>
    public required DateTimeOffset StartedUtc { get; init; }

    /// <summary>From the start of the connect to the verified answer (or the failure).</summary>
    public TimeSpan Elapsed { get; set; }

    /// <summary>The local port of the test's connection: tunnel-client logs it as the connection's peer.</summary>
    public int LocalPort { get; set; }

    /// <summary>The node that answered (see <see cref="MarkedUpstream"/>).</summary>
    public string? Node { get; set; }

    /// <summary>What came back, for exchanges that classify answers (an HTTP status line).</summary>
    public string? Answer { get; set; }

    /// <summary>Null when the exchange succeeded and its answer was verified.</summary>
    public string? Failure { get; set; }

    public bool Succeeded => Failure is null;

    /// <summary>Set once the exchange has ended either way.</summary>
    public bool Finished { get; set; }

    public override string ToString() =>
        $"#{Index} {Id} at {Ms(Started)} took {Ms(Elapsed)} port {LocalPort}: {Failure ?? $"ok {Node} {Answer}".TrimEnd()}";

    public static string Ms(TimeSpan t) => $"{t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms";
}

/// <summary>New connections at a steady pace, each running <c>exchange</c> (a small request/response verified by
/// content) under its own timeout, so a hang is a failure rather than a stuck test. Pacing is the only thing the
/// delays here do; the test waits on what the load has done (<see cref="StartedSince"/>), never on time alone. Bounded:
/// at most <c>maxConnections</c> are started.</summary>
internal sealed class SteadyLoad
{
    private readonly Lock _lock = new();
    private readonly List<LoadAttempt> _attempts = [];
    private readonly List<Task> _running = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock;
    private readonly Task _loop;

    private SteadyLoad(string prefix, TimeSpan interval, int maxConnections, TimeSpan timeout, Stopwatch clock,
        Func<LoadAttempt, CancellationToken, Task> exchange)
    {
        _clock = clock;
        Interval = interval;
        _loop = RunAsync(prefix, interval, maxConnections, timeout, exchange);
    }

    public TimeSpan Interval { get; }

    /// <param name="prefix">Start of every connection id.</param>
    /// <param name="interval">Time between two new connections.</param>
    /// <param name="maxConnections">Bound on the connections started.</param>
    /// <param name="timeout">Bound on one connection's exchange.</param>
    /// <param name="clock">The test's clock, on which <see cref="LoadAttempt.Started"/> is measured.</param>
    /// <param name="exchange">One connection: throws when it fails.</param>
    public static SteadyLoad Start(string prefix, TimeSpan interval, int maxConnections, TimeSpan timeout, Stopwatch clock,
        Func<LoadAttempt, CancellationToken, Task> exchange) =>
        new(prefix, interval, maxConnections, timeout, clock, exchange);

    /// <summary>Connections started so far.</summary>
    public int Started
    {
        get
        {
            lock (_lock)
            {
                return _attempts.Count;
            }
        }
    }

    /// <summary>Connections started at or after <paramref name="time"/> (on the test's clock).</summary>
    public int StartedSince(TimeSpan time)
    {
        lock (_lock)
        {
            return _attempts.Count(a => a.Started >= time);
        }
    }

    /// <summary>The connections started so far, as they are now.</summary>
    public IReadOnlyList<LoadAttempt> Snapshot()
    {
        lock (_lock)
        {
            return [.. _attempts];
        }
    }

    /// <summary>Connections that have finished successfully so far.</summary>
    public int Succeeded
    {
        get
        {
            lock (_lock)
            {
                return _attempts.Count(a => a.Finished && a.Succeeded);
            }
        }
    }

    /// <summary>Stops starting connections, waits for those running (each bounded by its timeout) and returns them all
    /// in the order they started.</summary>
    public async Task<IReadOnlyList<LoadAttempt>> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        Task[] running;
        lock (_lock)
        {
            running = [.. _running];
        }

        await Task.WhenAll(running);
        lock (_lock)
        {
            return [.. _attempts];
        }
    }

    private async Task RunAsync(string prefix, TimeSpan interval, int maxConnections, TimeSpan timeout,
        Func<LoadAttempt, CancellationToken, Task> exchange)
    {
        using var pace = new PeriodicTimer(interval);
        for (var i = 0; i < maxConnections && !_stop.IsCancellationRequested; i++)
        {
            var attempt = new LoadAttempt { Index = i, Id = $"{prefix}-{i}", Started = _clock.Elapsed, StartedUtc = DateTimeOffset.UtcNow };
            lock (_lock)
            {
                _attempts.Add(attempt);
                _running.Add(Task.Run(() => RunOneAsync(attempt, timeout, exchange)));
            }

            try
            {
                await pace.WaitForNextTickAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task RunOneAsync(LoadAttempt attempt, TimeSpan timeout, Func<LoadAttempt, CancellationToken, Task> exchange)
    {
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await exchange(attempt, limit.Token);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            attempt.Failure = $"no complete answer within {timeout.TotalSeconds:0.#} s";
        }
        catch (Exception ex)
        {
            attempt.Failure = $"{ex.GetType().Name}: {ex.Message}";
        }
        finally
        {
            attempt.Elapsed = _clock.Elapsed - attempt.Started;
            attempt.Finished = true;
        }
    }

    /// <summary>The <paramref name="fraction"/> quantile (nearest rank) of <paramref name="values"/>; zero when empty.</summary>
    public static TimeSpan Percentile(IEnumerable<TimeSpan> values, double fraction)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0)
        {
            return TimeSpan.Zero;
        }

        var rank = (int)Math.Ceiling(fraction * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    /// <summary>"n=120 p50=12 ms p99=48 ms max=51 ms" for the test output.</summary>
    public static string Summary(IReadOnlyCollection<TimeSpan> values) =>
        values.Count == 0
            ? "n=0"
            : $"n={values.Count} p50={LoadAttempt.Ms(Percentile(values, 0.5))} p99={LoadAttempt.Ms(Percentile(values, 0.99))} " +
              $"max={LoadAttempt.Ms(values.Max())}";
}
