namespace Tunnel.Relay;

/// <summary>For a connection waiting for its first byte: a token that fires when the process drains, once the wait
/// has lasted <c>grace</c> (the relay's <see cref="RelayOptions.DrainIdle"/>). A connection that has waited that long
/// when the drain starts (an idle pooled connection, a standby connection Squid opened) is closed at once; one that
/// only just got there (accepted, or its handshake finished, a moment before the signal) is a request in flight whose
/// bytes are on their way, and gets the rest of the grace to send them.</summary>
internal sealed class DrainGrace : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _grace;
    private readonly long _started;
    private readonly CancellationTokenRegistration _registration;
    private ITimer? _timer;

    public DrainGrace(TimeSpan grace, TimeProvider time, CancellationToken draining)
    {
        _time = time;
        _grace = grace;
        _started = time.GetTimestamp();
        _registration = draining.Register(static s => ((DrainGrace)s!).OnDrain(), this);
    }

    public CancellationToken Token => _cts.Token;

    private void OnDrain()
    {
        var waited = _time.GetElapsedTime(_started);
        if (waited >= _grace)
        {
            Cancel();
            return;
        }

        lock (_cts)
        {
            _timer ??= _time.CreateTimer(static s => ((DrainGrace)s!).Cancel(), this, _grace - waited, Timeout.InfiniteTimeSpan);
        }
    }

    private void Cancel()
    {
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The wait ended as the drain reached it.
        }
    }

    public void Dispose()
    {
        _registration.Dispose();
        lock (_cts)
        {
            _timer?.Dispose();
        }

        _cts.Dispose();
    }
}
