using Microsoft.Extensions.Logging;
using Tunnel.Net;
using Tunnel.Relay;

namespace Tunnel.Runtime;

/// <summary>Gives memory back when a process stops being busy: when the number of open connections has fallen to half
/// of its recent peak (by at least <see cref="MinimumDrop"/>), or to zero, and stayed there for a check period; or when
/// it has gone quiet (no connection opened or closed for a check period since some were, or since start) with at most
/// <see cref="QuietMaximum"/> open. It then empties the relay's buffer pool, runs a compacting collection and trims the
/// native heaps. Busy processes are left alone, and a quiet one is trimmed once per quiet spell, and again only if its
/// anonymous memory (heaps, not pages of files) grows by <see cref="Regrowth"/> while it stays quiet: work that is not a
/// tunneled connection (reloads, the client's warm pool replacing its connections, scrapes) leaves garbage too.</summary>
internal sealed partial class MemoryTrimmer : IDisposable
{
    private const int MinimumDrop = 64;

    /// <summary>Open connections up to which a quiet process is trimmed: a small heap, so the compacting collection
    /// is short (a process holding thousands of idle connections is left alone, as before).</summary>
    private const int QuietMaximum = 64;
    /// <summary>Growth of anonymous resident memory, since the last trim, after which a quiet process is trimmed
    /// again.</summary>
    private const long Regrowth = 1024 * 1024;
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(2);

    private readonly ConnectionTracker _tracker;
    private readonly ILogger _logger;
    private readonly BufferPool _buffers;
    private readonly ITimer _timer;
    private readonly Func<long> _resident;
    private long _residentAfterTrim;
    private int _peak;
    private int _lastSeen;
    private long _lastEntered;
    private bool _trimmedSinceActivity;

    public MemoryTrimmer(ConnectionTracker tracker, ILogger logger, TimeProvider time, BufferPool? buffers = null, Func<long>? residentBytes = null)
    {
        _tracker = tracker;
        _logger = logger;
        _buffers = buffers ?? BufferPool.Shared;
        _resident = residentBytes ?? ResidentMemory.AnonymousBytes;
        _timer = time.CreateTimer(static s => ((MemoryTrimmer)s!).Check(), this, Period, Period);
    }

    /// <summary>One check; public for tests.</summary>
    public bool Check()
    {
        var active = _tracker.Active;
        var entered = _tracker.Entered;
        var settled = active == _lastSeen;
        var quiet = settled && entered == _lastEntered;
        _lastSeen = active;
        _lastEntered = entered;
        _trimmedSinceActivity &= quiet;
        _peak = Math.Max(_peak, active);
        var dropped = _peak - active;
        var fell = settled && (dropped >= MinimumDrop || active == 0 && _peak > 0) && active <= _peak / 2;
        var wentQuiet = quiet && !_trimmedSinceActivity && active <= QuietMaximum;
        var regrew = quiet && _trimmedSinceActivity && active <= QuietMaximum && _resident() - _residentAfterTrim >= Regrowth;
        if (!fell && !wentQuiet && !regrew)
        {
            return false;
        }

        var before = _resident();
        _buffers.Trim();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        NativeMemory.Trim();
        _residentAfterTrim = _resident();
        var freed = (before - _residentAfterTrim) / (1024 * 1024);
        if (fell)
        {
            LogTrimmed(_logger, _peak, active, freed);
        }
        else if (regrew)
        {
            LogTrimmedRegrown(_logger, active, freed);
        }
        else
        {
            LogTrimmedQuiet(_logger, active, freed);
        }

        _peak = active;
        _trimmedSinceActivity = true;
        return true;
    }

    public void Dispose() => _timer.Dispose();

    [LoggerMessage(EventId = 40, EventName = "MemoryTrimmed", Level = LogLevel.Debug,
        Message = "connections fell from {Peak} to {Active}: returned {FreedMiB} MiB to the system")]
    private static partial void LogTrimmed(ILogger logger, int peak, int active, long freedMiB);

    [LoggerMessage(EventId = 41, EventName = "MemoryTrimmedQuiet", Level = LogLevel.Debug,
        Message = "quiet with {Active} connections open: returned {FreedMiB} MiB to the system")]
    private static partial void LogTrimmedQuiet(ILogger logger, int active, long freedMiB);

    [LoggerMessage(EventId = 42, EventName = "MemoryTrimmedRegrown", Level = LogLevel.Debug,
        Message = "quiet with {Active} connections open, but its heaps grew: returned {FreedMiB} MiB to the system")]
    private static partial void LogTrimmedRegrown(ILogger logger, int active, long freedMiB);
}
