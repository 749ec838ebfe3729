using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tunnel.Client.Dialing;
using Tunnel.Client.Options;
using Tunnel.Metrics;

namespace Tunnel.Tests.Integration;

/// <summary>How the warm pool refills, with a stand-in for the connector: every missing connection is attempted at
/// once, a take that finds the pool empty grows it (up to four times its size), and attempts that fail before they
/// could wait (no server to try) back off instead of being retried in a loop.</summary>
public sealed class WarmPoolRefillTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact(Timeout = 30_000)]
    public async Task Every_missing_connection_is_attempted_at_once()
    {
        var attempts = new Attempts();
        await using var pool = NewPool(3, attempts.HangAsync);

        // One at a time, the second attempt would wait for the first, which never ends.
        await attempts.InFlight(3).WaitAsync(Wait);
        Assert.Equal(3, attempts.Started);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_take_that_finds_the_pool_empty_grows_it_up_to_four_times_its_size()
    {
        var attempts = new Attempts();
        await using var pool = NewPool(2, attempts.HangAsync);
        await attempts.InFlight(2).WaitAsync(Wait);

        Assert.Null(pool.TryTake()); // nothing established yet: a miss
        Assert.Equal(3, pool.Target);
        await attempts.InFlight(3).WaitAsync(Wait);

        for (var i = 0; i < 10; i++)
        {
            Assert.Null(pool.TryTake());
        }

        Assert.Equal(2 * WarmPool.GrowthFactor, pool.Target);
        await attempts.InFlight(8).WaitAsync(Wait);
    }

    [Fact(Timeout = 30_000)]
    public async Task Attempts_that_fail_at_once_back_off_instead_of_looping()
    {
        var time = new FakeTimeProvider(); // never advanced: the backoff never ends
        var attempts = new Attempts();
        await using var pool = NewPool(2, attempts.RefuseAsync, time);
        await attempts.InFlight(1).WaitAsync(Wait);

        // A window to see that nothing more happens: a pool that retried at once would be past a million by now.
        await Task.Delay(TimeSpan.FromMilliseconds(300));

        Assert.InRange(attempts.Started, 1, 2);
    }

    private static WarmPool NewPool(int size, Func<CancellationToken, Task<ServerConnection>> connect, TimeProvider? time = null) =>
        new("default", connect, new PoolOptions(size, TimeSpan.FromSeconds(30)), new TunnelMetrics("tunnel-client"), NullLogger.Instance,
            time ?? TimeProvider.System);

    /// <summary>Counts the pool's connection attempts.</summary>
    private sealed class Attempts
    {
        private readonly Lock _lock = new();
        private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
        private int _started;

        public int Started => Volatile.Read(ref _started);

        /// <summary>Completes once <paramref name="count"/> attempts have started.</summary>
        public Task InFlight(int count)
        {
            lock (_lock)
            {
                if (_started >= count)
                {
                    return Task.CompletedTask;
                }

                var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, reached));
                return reached.Task;
            }
        }

        /// <summary>An attempt that never finishes until the pool stops.</summary>
        public async Task<ServerConnection> HangAsync(CancellationToken cancellationToken)
        {
            Start();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }

        /// <summary>An attempt refused before it could wait, as a connect to a closed loopback port is.</summary>
        public Task<ServerConnection> RefuseAsync(CancellationToken cancellationToken)
        {
            Start();
            throw new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused);
        }

        private void Start()
        {
            lock (_lock)
            {
                _started++;
                foreach (var waiter in _waiters.Where(w => _started >= w.Count).ToList())
                {
                    waiter.Reached.TrySetResult();
                    _waiters.Remove(waiter);
                }
            }
        }
    }
}
