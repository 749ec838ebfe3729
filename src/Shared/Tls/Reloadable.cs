using Microsoft.Extensions.Logging;
using Tunnel.Common;

namespace Tunnel.Tls;

/// <summary>An immutable snapshot of TLS material that is swapped atomically on reload. New handshakes read
/// <see cref="Current"/>; established connections keep the snapshot they started with. A reload that fails keeps the
/// old snapshot and logs why.</summary>
internal sealed partial class Reloadable<T> : IReloadable where T : class
{
    private readonly Func<T> _load;
    private readonly string _what;
    private readonly ILogger _logger;
    private T _current;

    /// <summary>Loads the first snapshot; throws when that fails (start-up must not proceed without it).</summary>
    public Reloadable(string what, Func<T> load, ILogger logger)
    {
        _what = what;
        _load = load;
        _logger = logger;
        _current = load();
    }

    public T Current => Volatile.Read(ref _current);

    /// <summary>Raised after a successful swap, with the new snapshot.</summary>
    public event Action<T>? Reloaded;

    public bool Reload()
    {
        T next;
        try
        {
            next = _load();
        }
        catch (Exception ex) when (ex is CertificateLoadException or IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            LogReloadFailed(_logger, _what, ex.Message);
            return false;
        }

        Volatile.Write(ref _current, next);
        LogReloaded(_logger, _what);
        Reloaded?.Invoke(next);
        return true;
    }

    [LoggerMessage(EventId = 200, EventName = "TlsReloaded", Level = LogLevel.Information, Message = "{What}: reloaded certificates and trust material")]
    private static partial void LogReloaded(ILogger logger, string what);

    [LoggerMessage(EventId = 201, EventName = "TlsReloadFailed", Level = LogLevel.Error,
        Message = "{What}: reload failed, still serving with the previous material: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string what, string reason);
}
