namespace Tunnel.Net;

/// <summary>A cancellation token that fires after a timeout measured by a <see cref="TimeProvider"/> or when an
/// outer token fires, and can tell the two apart.</summary>
internal sealed class TimeoutScope : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly CancellationToken _outer;
    private readonly CancellationToken _other;
    private readonly ITimer? _timer;
    private volatile bool _timedOut;

    public TimeoutScope(TimeSpan timeout, TimeProvider time, CancellationToken outer)
        : this(timeout, time, outer, CancellationToken.None)
    {
    }

    /// <summary>Fires on the timeout or on either outer token.</summary>
    public TimeoutScope(TimeSpan timeout, TimeProvider time, CancellationToken outer, CancellationToken other)
    {
        _outer = outer;
        _other = other;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(outer, other);
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            _timer = time.CreateTimer(static s => ((TimeoutScope)s!).Fire(), this, timeout, Timeout.InfiniteTimeSpan);
        }
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>True when the timeout, not the outer token, cancelled <see cref="Token"/>.</summary>
    public bool TimedOut => _timedOut && !_outer.IsCancellationRequested && !_other.IsCancellationRequested;

    private void Fire()
    {
        _timedOut = true;
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The scope ended while the timer fired.
        }
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _cts.Dispose();
    }
}
