using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Tunnel.Common;
using Tunnel.Net;

namespace Tunnel.Balancing;

/// <summary>Establishes connections to one of several backends: picks healthy backends in strategy order, races a
/// second backend when the first is slow (hedging), retries whole rounds with exponential backoff and jitter
/// (Polly), and fails fast when every backend is known down. Only establishment is retried: the caller has not
/// forwarded a byte yet.</summary>
internal sealed class BackendPool
{
    private readonly BalancingOptions _options;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _rounds;
    private int _next = -1;

    public BackendPool(string tunnel, IReadOnlyList<HostPort> addresses, BalancingOptions options, ILogger logger, TimeProvider time)
    {
        _options = options;
        _time = time;
        Backends = addresses.Select(a => new Backend(tunnel, a, options.BreakDuration, logger, time)).ToList();
        _rounds = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(1, options.Retries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(2),
                ShouldHandle = new PredicateBuilder().Handle<BackendsDownException>(ex => ex.Retryable && options.Retries > 0),
            })
            .Build();
    }

    public IReadOnlyList<Backend> Backends { get; }

    public BalancingOptions Options => _options;

    /// <summary>Connects with <paramref name="connect"/> to a backend. A connection won by a losing hedge attempt is
    /// handed to <paramref name="discard"/>. Throws <see cref="BackendsDownException"/> when no backend could be used.</summary>
    /// <param name="connect">One attempt on one backend.</param>
    /// <param name="discard">Closes a connection won by a losing hedge attempt.</param>
    /// <param name="transient">Which attempt failures are worth another round (a refused connection is; a
    /// certificate that fails verification is not).</param>
    /// <param name="cancellationToken">Cancels the whole establishment.</param>
    public async Task<(T Connection, Backend Backend)> ConnectAsync<T>(
        Func<Backend, CancellationToken, Task<T>> connect,
        Action<T> discard,
        Func<Exception, bool> transient,
        CancellationToken cancellationToken)
        where T : class
    {
        using var budget = new TimeoutScope(_options.Budget, _time, cancellationToken);
        try
        {
            return await _rounds.ExecuteAsync(
                static async (state, token) => await state.Pool.RoundAsync(state.Connect, state.Discard, state.Transient, token),
                (Pool: this, Connect: connect, Discard: discard, Transient: transient),
                budget.Token);
        }
        catch (OperationCanceledException) when (budget.TimedOut)
        {
            throw new BackendsDownException($"no backend answered within {Durations.Format(_options.Budget)}: {Describe()}", knownDown: false, null);
        }
    }

    /// <summary>Healthy backends in the order this connection should try them.</summary>
    public List<Backend> Order()
    {
        var available = Backends.Where(b => b.IsAvailable).ToList();
        switch (_options.Strategy)
        {
            case BalancingStrategy.RoundRobin when available.Count > 1:
                var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)available.Count);
                return [.. available.Skip(start), .. available.Take(start)];
            case BalancingStrategy.LeastConnections:
                return [.. available.OrderBy(b => b.ActiveConnections)];
            default:
                return available;
        }
    }

    /// <summary>Each backend with its state and last error, for error messages.</summary>
    public string Describe() => string.Join("; ", Backends.Select(b =>
    {
        var state = b.ProbeDown ? "down (health check)" : b.Circuit switch
        {
            CircuitState.Open or CircuitState.Isolated => "skipped after failures",
            CircuitState.HalfOpen => "on trial",
            _ => "up",
        };
        var ago = b.SinceLastFailure is { } t ? $" {t.TotalSeconds:0.#}s ago" : "";
        return b.LastError is { } error ? $"{b.Address} {state}: {error}{ago}" : $"{b.Address} {state}";
    }));

    private async Task<(T, Backend)> RoundAsync<T>(Func<Backend, CancellationToken, Task<T>> connect, Action<T> discard,
        Func<Exception, bool> transient, CancellationToken cancellationToken)
        where T : class
    {
        var order = Order();
        if (order.Count == 0)
        {
            throw new BackendsDownException($"every backend is down: {Describe()}", knownDown: true, null);
        }

        using var attemptsCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new List<Task<Attempt<T>>>();
        var next = 0;
        Exception? last = null;
        Task? hedge = null;
        running.Add(AttemptAsync(order[next++], connect, attemptsCts.Token));
        try
        {
            while (running.Count > 0)
            {
                if (hedge is null && next < order.Count && _options.HedgeDelay != Timeout.InfiniteTimeSpan)
                {
                    hedge = Task.Delay(_options.HedgeDelay, _time, attemptsCts.Token);
                }

                var finished = await Task.WhenAny(hedge is null ? running : [.. running, hedge]);
                if (finished == hedge)
                {
                    hedge = null;
                    if (next < order.Count && !cancellationToken.IsCancellationRequested)
                    {
                        running.Add(AttemptAsync(order[next++], connect, attemptsCts.Token));
                    }

                    continue;
                }

                var attemptTask = (Task<Attempt<T>>)finished;
                running.Remove(attemptTask);
                var attempt = await attemptTask;
                if (attempt.Connection is { } connection)
                {
                    await attemptsCts.CancelAsync();
                    DiscardLosers(running, discard);
                    return (connection, attempt.Backend);
                }

                last = attempt.Error;
                cancellationToken.ThrowIfCancellationRequested();
                if (running.Count == 0 && next < order.Count)
                {
                    hedge = null;
                    running.Add(AttemptAsync(order[next++], connect, attemptsCts.Token));
                }
            }
        }
        catch
        {
            await attemptsCts.CancelAsync();
            DiscardLosers(running, discard);
            throw;
        }

        throw new BackendsDownException(Describe(), knownDown: false, last, retryable: last is not null && transient(last));
    }

    private static async Task<Attempt<T>> AttemptAsync<T>(Backend backend, Func<Backend, CancellationToken, Task<T>> connect, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var connection = await backend.Breaker.ExecuteAsync(
                static async (state, token) => await state.Connect(state.Backend, token),
                (Backend: backend, Connect: connect),
                cancellationToken);
            backend.RecordSuccess();
            return new Attempt<T>(backend, connection, null);
        }
        catch (BrokenCircuitException ex)
        {
            return new Attempt<T>(backend, null, ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            backend.RecordFailure(ex);
            return new Attempt<T>(backend, null, ex);
        }
        catch (OperationCanceledException ex)
        {
            return new Attempt<T>(backend, null, ex);
        }
    }

    /// <summary>Attempts still running when another won may yet succeed: close what they produce.</summary>
    private static void DiscardLosers<T>(List<Task<Attempt<T>>> running, Action<T> discard)
        where T : class
    {
        foreach (var attempt in running)
        {
            _ = attempt.ContinueWith(
                static (task, state) =>
                {
                    if (task.Result.Connection is { } loser)
                    {
                        ((Action<T>)state!)(loser);
                    }
                },
                discard,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    private sealed record Attempt<T>(Backend Backend, T? Connection, Exception? Error)
        where T : class;
}
