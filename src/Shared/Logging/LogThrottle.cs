namespace Tunnel.Logging;

/// <summary>Decides when a repeated warning is written: the first of a burst at once, then at most once per
/// interval with the number of occurrences left out, so a flood costs one line every few seconds instead of one
/// per connection.</summary>
internal sealed class LogThrottle(TimeSpan interval, TimeProvider time)
{
    private readonly Lock _lock = new();
    private long _next;
    private bool _started;
    private long _suppressed;

    public TimeSpan Interval => interval;

    /// <summary>True when this occurrence should be logged; <paramref name="suppressed"/> then counts those that
    /// were not since the last logged one.</summary>
    public bool ShouldLog(out long suppressed)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (_started && now < _next)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }

            _started = true;
            _next = now + (long)(interval.TotalSeconds * time.TimestampFrequency);
            suppressed = _suppressed;
            _suppressed = 0;
            return true;
        }
    }
}
