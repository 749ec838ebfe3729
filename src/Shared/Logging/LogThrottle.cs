using Microsoft.Extensions.Logging;

namespace Tunnel.Logging;

/// <summary>Keeps a repeated log line from flooding the log: per key (a reason such as <c>"handshake-failed"</c>),
/// the first <see cref="Burst"/> occurrences of each interval are written and the rest only counted.</summary>
/// <remarks>
/// <para>Usage, one throttle per daemon or tunnel, kept for its lifetime:</para>
/// <code>
/// private readonly LogThrottle _junk = new(TimeSpan.FromSeconds(10), context.Time, burst: 5, summaryLogger: context.Logger);
///
/// if (_junk.ShouldLog("handshake-failed", out var suppressed))
///     ConnectionLog.HandshakeFailed(logger, ...);      // at its usual level
/// else
///     ConnectionLog.RoutineError(logger, ...);         // optional: the same facts at Debug
/// </code>
/// <para>An interval starts at a key's first occurrence and lasts <see cref="Interval"/>. When one ends having
/// suppressed lines, the count is reported once: with a <c>summaryLogger</c>, as its own warning at the end of the
/// interval ("handshake-failed: suppressed 1234 more like this in the last 10s", event <c>LogSuppressed</c>), so the
/// count is written even when the flood stops; without one, as the <c>suppressed</c> count of the next
/// <see cref="ShouldLog(string, out long)"/> that returns true (for a line whose message carries the count itself).</para>
/// <para>Keys must come from a small fixed set (reasons, limit names), never from peer input or addresses: each
/// key keeps a few bytes of state for the throttle's lifetime. Thread-safe; a call costs one lock and no
/// allocation once its key has been seen. Nothing to dispose: the only timer is a one-shot per key and window with
/// suppressed lines.</para>
/// </remarks>
internal sealed partial class LogThrottle
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ILogger? _summaryLogger;
    private readonly long _intervalTicks;

    /// <param name="interval">How long one window lasts.</param>
    /// <param name="time">The clock (a fake one in tests).</param>
    /// <param name="burst">Occurrences written per key and window (at least 1).</param>
    /// <param name="summaryLogger">Where the end-of-window count of suppressed lines is written; null folds the count
    /// into the next written line instead.</param>
    public LogThrottle(TimeSpan interval, TimeProvider time, int burst = 1, ILogger? summaryLogger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        Interval = interval;
        Burst = burst;
        _time = time;
        _summaryLogger = summaryLogger;
        _intervalTicks = (long)(interval.TotalSeconds * time.TimestampFrequency);
    }

    public TimeSpan Interval { get; }

    public int Burst { get; }

    /// <summary>The single-key form, for a throttle that guards one kind of line.</summary>
    public bool ShouldLog(out long suppressed) => ShouldLog("", out suppressed);

    /// <summary>True when this occurrence of <paramref name="key"/> should be written. <paramref name="suppressed"/>
    /// is then the number of occurrences not written since the last report (always 0 with a summary logger, which
    /// reports them itself); 0 when false.</summary>
    public bool ShouldLog(string key, out long suppressed)
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            if (!_windows.TryGetValue(key, out var window))
            {
                window = new Window();
                _windows[key] = window;
            }

            if (!window.Started || now >= window.Ends)
            {
                window.Started = true;
                window.Ends = now + _intervalTicks;
                window.Written = 0;
                window.Timer?.Dispose();
                window.Timer = null;
            }

            if (window.Written < Burst)
            {
                window.Written++;
                suppressed = window.Suppressed;
                window.Suppressed = 0;
                return true;
            }

            window.Suppressed++;
            if (_summaryLogger is not null && window.Timer is null)
            {
                var due = TimeSpan.FromSeconds((double)(window.Ends - now) / _time.TimestampFrequency);
                window.Timer = _time.CreateTimer(static state =>
                {
                    var (throttle, key) = ((LogThrottle, string))state!;
                    throttle.Summarize(key);
                }, (this, key), due, Timeout.InfiniteTimeSpan);
            }

            suppressed = 0;
            return false;
        }
    }

    private void Summarize(string key)
    {
        long count;
        lock (_lock)
        {
            if (!_windows.TryGetValue(key, out var window))
            {
                return;
            }

            count = window.Suppressed;
            window.Suppressed = 0;
            window.Timer?.Dispose();
            window.Timer = null;
        }

        if (count > 0)
        {
            LogSuppressed(_summaryLogger!, key.Length == 0 ? "log line" : key, count, Common.Durations.Format(Interval));
        }
    }

    private sealed class Window
    {
        public bool Started;
        public long Ends;
        public int Written;
        public long Suppressed;
        public ITimer? Timer;
    }

    [LoggerMessage(EventId = 9, EventName = "LogSuppressed", Level = LogLevel.Warning,
        Message = "{Key}: suppressed {Suppressed} more like this in the last {Interval}")]
    private static partial void LogSuppressed(ILogger logger, string key, long suppressed, string interval);
}
