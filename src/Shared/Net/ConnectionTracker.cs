namespace Tunnel.Net;

/// <summary>Counts connections in flight so that shutdown can wait for them to drain.</summary>
internal sealed class ConnectionTracker
{
    private readonly Lock _lock = new();
    private int _active;
    private long _entered;
    private TaskCompletionSource? _drained;
    private List<(int Count, TaskCompletionSource Done)>? _reached;

    public int Active => Volatile.Read(ref _active);

    /// <summary>Connections entered since the process started: with <see cref="Active"/>, tells a quiet spell (neither
    /// moved) from churn at a steady count.</summary>
    public long Entered => Interlocked.Read(ref _entered);

    public void Enter()
    {
        lock (_lock)
        {
            _active++;
            _entered++;
            _reached?.RemoveAll(w => w.Count <= _active && w.Done.TrySetResult());
        }
    }

    public void Exit()
    {
        lock (_lock)
        {
            if (--_active == 0)
            {
                _drained?.TrySetResult();
                _drained = null;
            }
        }
    }

    /// <summary>Completes when no connection is in flight.</summary>
    public Task WhenDrainedAsync()
    {
        lock (_lock)
        {
            if (_active == 0)
            {
                return Task.CompletedTask;
            }

            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task;
        }
    }

    /// <summary>Completes once at least <paramref name="count"/> connections are in flight.</summary>
    public Task WhenActiveAsync(int count)
    {
        lock (_lock)
        {
            if (_active >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            (_reached ??= []).Add((count, done));
            return done.Task;
        }
    }
}
