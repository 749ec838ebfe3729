using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace Tunnel.Logging;

/// <summary>A rolling file sink that can be closed and reopened (SIGUSR1), so logrotate's move-and-signal works
/// as it does with stunnel.</summary>
internal sealed class ReopenableFileSink : ILogEventSink, IDisposable
{
    private readonly string _path;
    private readonly ITextFormatter _formatter;
    private readonly Lock _lock = new();
    private Logger _inner;

    public ReopenableFileSink(string path, ITextFormatter formatter)
    {
        _path = path;
        _formatter = formatter;
        _inner = Open();
    }

    public void Emit(LogEvent logEvent)
    {
        lock (_lock)
        {
            _inner.Write(logEvent);
        }
    }

    public void Reopen()
    {
        lock (_lock)
        {
            _inner.Dispose();
            _inner = Open();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _inner.Dispose();
        }
    }

    private Logger Open() => new LoggerConfiguration()
        .MinimumLevel.Verbose()
        .WriteTo.File(_formatter, _path, rollingInterval: RollingInterval.Day, retainedFileCountLimit: 14,
            fileSizeLimitBytes: 256L * 1024 * 1024, rollOnFileSizeLimit: true)
        .CreateLogger();
}
