using Microsoft.Extensions.Logging;
using Tunnel.Net;
using Tunnel.Relay;

namespace Tunnel.Runtime;

/// <summary>Gives memory back after a burst of connections has gone: when the number of open connections has fallen
/// to half of its recent peak (by at least <see cref="MinimumDrop"/>), or to zero, and stayed there for a check
/// period, it empties the relay's buffer pool, runs a compacting collection and trims the native heaps. Busy processes
/// are left alone.</summary>
internal sealed partial class MemoryTrimmer : IDisposable
{
    private const int MinimumDrop = 64;
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(2);

    private readonly ConnectionTracker _tracker;
    private readonly ILogger _logger;
    private readonly BufferPool _buffers;
    private readonly ITimer _timer;
    private int _peak;
    private int _lastSeen;

    public MemoryTrimmer(ConnectionTracker tracker, ILogger logger, TimeProvider time, BufferPool? buffers = null)
    {
        _tracker = tracker;
        _logger = logger;
        _buffers = buffers ?? BufferPool.Shared;
        _timer = time.CreateTimer(static s => ((MemoryTrimmer)s!).Check(), this, Period, Period);
    }

    /// <summary>One check; public for tests.</summary>
    public bool Check()
    {
        var active = _tracker.Active;
        var settled = active == _lastSeen;
        _lastSeen = active;
        _peak = Math.Max(_peak, active);
        var dropped = _peak - active;
        if (!settled || dropped < MinimumDrop && !(active == 0 && _peak > 0) || active > _peak / 2)
        {
            return false;
        }

        var before = Environment.WorkingSet;
        _buffers.Trim();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        NativeMemory.Trim();
        LogTrimmed(_logger, _peak, active, (before - Environment.WorkingSet) / (1024 * 1024));
        _peak = active;
        return true;
    }

    public void Dispose() => _timer.Dispose();

    [LoggerMessage(EventId = 40, EventName = "MemoryTrimmed", Level = LogLevel.Debug,
        Message = "connections fell from {Peak} to {Active}: returned {FreedMiB} MiB to the system")]
    private static partial void LogTrimmed(ILogger logger, int peak, int active, long freedMiB);
}
