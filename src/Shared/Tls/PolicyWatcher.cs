using Microsoft.Extensions.Logging;

namespace Tunnel.Tls;

/// <summary>Keeps a tunnel's TLS policy current without a signal: polls its files (certificate, key, CA bundle, CRL,
/// allow-list) and reloads once a change has settled for one interval, so a half-written pair of files is not picked
/// up; and repeats the expiry warnings daily.</summary>
/// <remarks>Polling rather than inotify: Kubernetes swaps mounted secrets through a symlink, which is a change of
/// the resolved file that stat() sees and a watcher on the file itself can miss.</remarks>
internal sealed partial class PolicyWatcher : IDisposable
{
    private static readonly TimeSpan ExpiryCheckPeriod = TimeSpan.FromDays(1);

    private readonly string _tunnel;
    private readonly Func<IEnumerable<string>> _files;
    private readonly Func<bool> _reload;
    private readonly Action _checkExpiry;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    private string _applied;
    private string? _pending;
    private long _lastExpiryCheck;

    public PolicyWatcher(string tunnel, Func<IEnumerable<string>> files, Func<bool> reload, Action checkExpiry, TimeSpan interval,
        ILogger logger, TimeProvider time)
    {
        _tunnel = tunnel;
        _files = files;
        _reload = reload;
        _checkExpiry = checkExpiry;
        _logger = logger;
        _time = time;
        _applied = Fingerprint();
        _lastExpiryCheck = time.GetTimestamp();
        _timer = time.CreateTimer(static s => ((PolicyWatcher)s!).Tick(), this, interval, interval);
    }

    /// <summary>Records the files as they are now, after a reload triggered elsewhere (SIGHUP).</summary>
    public void MarkApplied()
    {
        lock (_lock)
        {
            _applied = Fingerprint();
            _pending = null;
        }
    }

    internal void Tick()
    {
        lock (_lock)
        {
            var now = Fingerprint();
            if (now == _applied)
            {
                _pending = null;
            }
            else if (now != _pending)
            {
                _pending = now; // changed: wait one more interval for the writes to settle
            }
            else
            {
                LogFilesChanged(_logger, _tunnel);
                _reload();
                _applied = now;
                _pending = null;
            }

            if (_time.GetElapsedTime(_lastExpiryCheck) >= ExpiryCheckPeriod)
            {
                _lastExpiryCheck = _time.GetTimestamp();
                _checkExpiry();
            }
        }
    }

    /// <summary>Path, resolved target, size and modification time of every file; a missing file counts too.</summary>
    private string Fingerprint()
    {
        var parts = new List<string>();
        foreach (var path in _files())
        {
            try
            {
                var info = new FileInfo(path);
                var target = info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
                parts.Add($"{path}|{target.FullName}|{target.Length}|{target.LastWriteTimeUtc.Ticks}");
            }
            catch (IOException)
            {
                parts.Add(path + "|missing");
            }
            catch (UnauthorizedAccessException)
            {
                parts.Add(path + "|denied");
            }
        }

        return string.Join("\n", parts);
    }

    public void Dispose() => _timer.Dispose();

    [LoggerMessage(EventId = 220, EventName = "PolicyFilesChanged", Level = LogLevel.Information,
        Message = "tunnel {Tunnel}: certificate, CA, CRL or allow-list files changed; reloading")]
    private static partial void LogFilesChanged(ILogger logger, string tunnel);
}
