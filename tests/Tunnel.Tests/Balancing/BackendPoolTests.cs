using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tunnel.Balancing;
using Tunnel.Net;

namespace Tunnel.Tests.Balancing;

/// <summary>Backend selection, hedging, retries and fast failure, with fake connect functions.</summary>
public sealed class BackendPoolTests
{
    private static readonly HostPort A = new("a.test", 443);
    private static readonly HostPort B = new("b.test", 443);
    private static readonly HostPort C = new("c.test", 443);

    private static BackendPool Pool(BalancingStrategy strategy, TimeSpan? hedge = null, int retries = 2, TimeProvider? time = null,
        IReadOnlyList<HostPort>? backends = null) =>
        new("t", backends ?? [A, B, C], new BalancingOptions(strategy, retries, hedge ?? Timeout.InfiniteTimeSpan, TimeSpan.FromSeconds(30),
            Timeout.InfiniteTimeSpan, TimeSpan.FromSeconds(20)), NullLogger.Instance, time ?? TimeProvider.System);

    private static Task<(string, Backend)> Connect(BackendPool pool, Func<HostPort, Task<string>> connect) =>
        pool.ConnectAsync((backend, _) => connect(backend.Address), _ => { }, _ => true, CancellationToken.None);

    [Fact(Timeout = 10_000)]
    public async Task Failover_uses_the_first_backend_while_it_works_and_the_next_when_it_does_not()
    {
        var pool = Pool(BalancingStrategy.Failover);
        Assert.Equal("a", (await Connect(pool, h => Task.FromResult(h.Host[..1]))).Item1);

        var (result, backend) = await Connect(pool, h => h == A ? Task.FromException<string>(new IOException("refused")) : Task.FromResult(h.Host[..1]));
        Assert.Equal("b", result);
        Assert.Equal(B, backend.Address);
        Assert.Equal("refused", pool.Backends[0].LastError);
    }

    [Fact(Timeout = 10_000)]
    public async Task Round_robin_spreads_connections_evenly()
    {
        var pool = Pool(BalancingStrategy.RoundRobin);
        var counts = new Dictionary<string, int> { ["a"] = 0, ["b"] = 0, ["c"] = 0 };
        for (var i = 0; i < 30; i++)
        {
            counts[(await Connect(pool, h => Task.FromResult(h.Host[..1]))).Item1]++;
        }

        Assert.All(counts.Values, c => Assert.Equal(10, c));
    }

    [Fact(Timeout = 10_000)]
    public async Task Least_connections_prefers_the_backend_with_fewest_open_leases()
    {
        var pool = Pool(BalancingStrategy.LeastConnections);
        using var a1 = pool.Backends[0].Lease();
        using var a2 = pool.Backends[0].Lease();
        using var b1 = pool.Backends[1].Lease();

        Assert.Equal("c", (await Connect(pool, h => Task.FromResult(h.Host[..1]))).Item1);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_slow_backend_is_raced_by_the_next_after_the_hedge_delay_and_the_loser_is_discarded()
    {
        var pool = Pool(BalancingStrategy.Failover, hedge: TimeSpan.FromMilliseconds(50));
        var slowA = new TaskCompletionSource<string>();
        var discarded = new TaskCompletionSource<string>();

        var (result, _) = await pool.ConnectAsync(
            (backend, _) => backend.Address == A ? slowA.Task : Task.FromResult("b"),
            loser => discarded.TrySetResult(loser),
            _ => true,
            CancellationToken.None);

        Assert.Equal("b", result);
        slowA.SetResult("late a");
        Assert.Equal("late a", await discarded.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact(Timeout = 10_000)]
    public async Task Transient_failures_are_retried_in_another_round()
    {
        var pool = Pool(BalancingStrategy.Failover);
        var attempts = 0;

        var (result, _) = await Connect(pool, _ => ++attempts <= 3 ? Task.FromException<string>(new IOException("refused")) : Task.FromResult("ok"));

        Assert.Equal("ok", result);
        Assert.Equal(4, attempts);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_failure_that_is_not_transient_is_not_retried()
    {
        var pool = Pool(BalancingStrategy.Failover);
        var attempts = 0;

        var error = await Assert.ThrowsAsync<BackendsDownException>(() => pool.ConnectAsync<string>(
            (_, _) => { attempts++; return Task.FromException<string>(new InvalidDataException("bad certificate")); },
            _ => { }, ex => ex is IOException, CancellationToken.None));

        Assert.Equal(3, attempts); // one round over the three backends
        Assert.IsType<InvalidDataException>(error.InnerException);
    }

    [Fact(Timeout = 10_000)]
    public async Task When_every_backend_is_known_down_it_fails_fast_without_trying()
    {
        var pool = Pool(BalancingStrategy.Failover, retries: 0);
        foreach (var backend in pool.Backends)
        {
            await backend.SetProbeResultAsync(up: false, "probe: connection refused");
        }

        var tried = false;
        var error = await Assert.ThrowsAsync<BackendsDownException>(() => Connect(pool, _ => { tried = true; return Task.FromResult("x"); }));

        Assert.True(error.KnownDown);
        Assert.False(tried);
        Assert.Contains("a.test:443 down (health check): probe: connection refused", error.Message);

        await pool.Backends[1].SetProbeResultAsync(up: true, null);
        Assert.Equal("b", (await Connect(pool, h => Task.FromResult(h.Host[..1]))).Item1);
    }

    [Fact(Timeout = 10_000)]
    public async Task Repeated_failures_open_a_backends_circuit_so_it_is_skipped()
    {
        var pool = Pool(BalancingStrategy.Failover, retries: 0);
        for (var i = 0; i < 3; i++)
        {
            await Connect(pool, h => h == A ? Task.FromException<string>(new IOException("reset")) : Task.FromResult(h.Host[..1]));
        }

        Assert.False(pool.Backends[0].IsAvailable);
        var tried = new List<HostPort>();
        await Connect(pool, h => { tried.Add(h); return Task.FromResult(h.Host[..1]); });
        Assert.Equal([B], tried);
    }

    [Fact(Timeout = 10_000)]
    public async Task Once_the_break_is_over_a_trial_connection_goes_to_the_backend_and_its_success_re_admits_it()
    {
        // The only backend (an upstream proxy that was restarted) failed until its circuit opened. Polly moves an open
        // circuit to half-open only when an attempt goes through it, so a pool that offers only available backends
        // must offer this one again once the break is over, or it stays skipped for good (as an end-to-end test of a
        // Squid restart showed: 503 "every backend is down" for minutes after Squid was back).
        var time = new FakeTimeProvider();
        var pool = Pool(BalancingStrategy.Failover, retries: 0, time: time, backends: [A]);
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<BackendsDownException>(() => Connect(pool, _ => Task.FromException<string>(new IOException("refused"))));
        }

        Assert.False(pool.Backends[0].IsAvailable);
        var during = await Assert.ThrowsAsync<BackendsDownException>(() => Connect(pool, _ => Task.FromResult("a")));
        Assert.True(during.KnownDown);

        time.Advance(TimeSpan.FromSeconds(31)); // the break (30 s here) is over
        Assert.True(pool.Backends[0].IsAvailable);
        Assert.Equal("a", (await Connect(pool, _ => Task.FromResult("a"))).Item1);
        Assert.Equal(Polly.CircuitBreaker.CircuitState.Closed, pool.Backends[0].Circuit);

        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => Connect(pool, _ => Task.FromException<string>(new IOException("refused"))));
        }

        time.Advance(TimeSpan.FromSeconds(31));
        await Assert.ThrowsAsync<BackendsDownException>(() => Connect(pool, _ => Task.FromException<string>(new IOException("still refused"))));
        Assert.False(pool.Backends[0].IsAvailable); // a failed trial opens the circuit for another break
    }
}
