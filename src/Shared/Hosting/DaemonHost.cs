using System.Net;
using Microsoft.Extensions.Logging;
using Tunnel.Admin;
using Tunnel.Common;
using Tunnel.Config;
using Tunnel.Metrics;
using Tunnel.Net;
using Tunnel.Runtime;
using Tunnel.Tls;

namespace Tunnel.Hosting;

/// <summary>Runs a daemon's tunnels: binds them all (or none), accepts until asked to stop, then drains in-flight
/// connections up to the shutdown timeout and cuts what is left.</summary>
internal sealed partial class DaemonHost : IDisposable
{
    private static readonly TimeSpan AbortGrace = TimeSpan.FromSeconds(5);

    private readonly IReadOnlyList<ITunnelService> _tunnels;
    private readonly ConnectionTracker _tracker;
    private readonly CancellationTokenSource _abort;
    private readonly TimeSpan _shutdownTimeout;
    private readonly AdminOptions _admin;
    private readonly TunnelMetrics _metrics;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop;
    private readonly TaskCompletionSource _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _forceNow = new();

    /// <param name="tunnels">The tunnels to bind and run.</param>
    /// <param name="tracker">Counts connections in flight.</param>
    /// <param name="stop">Cancelled when the host stops accepting (connections see it as their drain signal).</param>
    /// <param name="abort">Cancelled when the drain times out: every remaining connection is reset.</param>
    /// <param name="process">Process settings.</param>
    /// <param name="metrics">Metrics served by the admin endpoint.</param>
    /// <param name="loggers">For the admin endpoint's own logging.</param>
    /// <param name="logger">Host log.</param>
    /// <param name="time">Clock.</param>
    public DaemonHost(IReadOnlyList<ITunnelService> tunnels, ConnectionTracker tracker, CancellationTokenSource stop, CancellationTokenSource abort,
        ProcessOptions process, TunnelMetrics metrics, ILoggerFactory loggers, ILogger logger, TimeProvider time)
    {
        _stop = stop;
        _tunnels = tunnels;
        _tracker = tracker;
        _abort = abort;
        _shutdownTimeout = process.ShutdownTimeout;
        _admin = process.Admin;
        _metrics = metrics;
        _loggers = loggers;
        _logger = logger;
        _time = time;
        Notifier = SystemdNotifier.FromEnvironment(time);
    }

    /// <summary>systemd notifications, when running under systemd.</summary>
    public SystemdNotifier? Notifier { get; }

    /// <summary>The admin endpoint's address once started (null when disabled).</summary>
    public IPEndPoint? AdminEndPoint { get; private set; }

    public bool StopRequested => _stop.IsCancellationRequested;

    /// <summary>Completes when every listener is bound (faults when binding failed).</summary>
    public Task Bound => _bound.Task;

    /// <summary>Stop accepting and drain (SIGTERM, SIGINT). A second call cuts the remaining connections now.</summary>
    public void RequestStop()
    {
        if (_stop.IsCancellationRequested)
        {
            LogForcedBySignal(_logger, _tracker.Active);
            _forceNow.Cancel();
            return;
        }

        _stop.Cancel();
    }

    public async Task<int> RunAsync()
    {
        try
        {
            foreach (var tunnel in _tunnels)
            {
                tunnel.Bind();
            }
        }
        catch (StartupException ex)
        {
            LogStartupFailed(_logger, ex.Message);
            _bound.TrySetException(ex);
            return ExitCodes.Startup;
        }

        AdminServer? admin = null;
        if (_admin.Listen is { } adminListen)
        {
            try
            {
                admin = await AdminServer.StartAsync(adminListen, () => _stop.IsCancellationRequested, _tunnels, _metrics.Registry, _loggers, _time, CancellationToken.None);
                AdminEndPoint = admin.EndPoint;
            }
            catch (StartupException ex)
            {
                LogStartupFailed(_logger, ex.Message);
                _bound.TrySetException(ex);
                return ExitCodes.Startup;
            }
        }

        _bound.TrySetResult();
        LogStartupTypeData(StartupTypeData.Release());
        SystemTrustStore.LogStatus(_logger);
        OpenSslPolicy.LogStatus(_logger);
        if (OpenSslBuffers.Unavailable is { } why)
        {
            LogTlsBuffersKept(_logger, why);
        }

        using var trimmer = new MemoryTrimmer(_tracker, _logger, _time);
        Notifier?.Ready($"listening: {string.Join(", ", _tunnels.Select(t => t.Name))}");
        var loops = _tunnels.Select(t => t.RunAsync(_stop.Token)).ToArray();
        try
        {
            await Task.WhenAll(loops);
        }
        catch (Exception ex)
        {
            LogAcceptLoopFailed(_logger, ex);
            _stop.Cancel();
        }

        Notifier?.Stopping($"draining {_tracker.Active} connections");
        try
        {
            return await DrainAsync();
        }
        finally
        {
            if (admin is not null)
            {
                await admin.DisposeAsync();
            }
        }
    }

    private async Task<int> DrainAsync()
    {
        LogDraining(_logger, _tracker.Active, Durations.Format(_shutdownTimeout));
        using var deadline = new TimeoutScope(_shutdownTimeout, _time, _forceNow.Token);
        try
        {
            await _tracker.WhenDrainedAsync().WaitAsync(deadline.Token);
            LogStopped(_logger);
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException) when (_tracker.Active == 0)
        {
            // The last connection closed as the deadline (or a second signal) arrived.
            LogStopped(_logger);
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException)
        {
            var remaining = _tracker.Active;
            LogDrainTimedOut(_logger, remaining);
            await _abort.CancelAsync();
            try
            {
                await _tracker.WhenDrainedAsync().WaitAsync(AbortGrace, _time);
            }
            catch (TimeoutException)
            {
                LogAbortIncomplete(_logger, _tracker.Active);
            }

            return ExitCodes.Failure;
        }
    }

    public void Dispose()
    {
        Notifier?.Dispose();
        _forceNow.Dispose();
    }

    [LoggerMessage(EventId = 10, EventName = "StartupFailed", Level = LogLevel.Critical, Message = "cannot start: {Reason}")]
    private static partial void LogStartupFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 11, EventName = "Draining", Level = LogLevel.Information,
        Message = "stopped accepting; draining {Active} connections (up to {Timeout})")]
    private static partial void LogDraining(ILogger logger, int active, string timeout);

    [LoggerMessage(EventId = 12, EventName = "Stopped", Level = LogLevel.Information, Message = "all connections drained; exiting")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(EventId = 13, EventName = "DrainTimedOut", Level = LogLevel.Warning,
        Message = "drain did not finish; resetting {Active} remaining connections")]
    private static partial void LogDrainTimedOut(ILogger logger, int active);

    [LoggerMessage(EventId = 14, EventName = "AbortIncomplete", Level = LogLevel.Error,
        Message = "{Active} connections did not close after being reset; exiting anyway")]
    private static partial void LogAbortIncomplete(ILogger logger, int active);

    [LoggerMessage(EventId = 15, EventName = "AcceptLoopFailed", Level = LogLevel.Critical, Message = "a listener failed; shutting down")]
    private static partial void LogAcceptLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 16, EventName = "ForcedBySignal", Level = LogLevel.Warning,
        Message = "second stop signal: resetting {Active} connections now")]
    private static partial void LogForcedBySignal(ILogger logger, int active);

    private void LogStartupTypeData(StartupTypeData.Outcome outcome)
    {
        if (outcome.Skipped is { } why)
        {
            LogStartupTypeDataKept(_logger, why);
        }
        else
        {
            LogStartupTypeDataReleased(_logger, outcome.Length / 1024, $"{outcome.Start:x}");
        }
    }

    [LoggerMessage(EventId = 18, EventName = "StartupTypeDataReleased", Level = LogLevel.Debug,
        Message = "released the {KiB} KiB of compressed type data the runtime unpacked at start (at 0x{Address})")]
    private static partial void LogStartupTypeDataReleased(ILogger logger, long kiB, string address);

    [LoggerMessage(EventId = 19, EventName = "StartupTypeDataKept", Level = LogLevel.Debug,
        Message = "the compressed type data the runtime unpacked at start stays mapped: {Reason}")]
    private static partial void LogStartupTypeDataKept(ILogger logger, string reason);

    [LoggerMessage(EventId = 17, EventName = "TlsBuffersKept", Level = LogLevel.Information,
        Message = "idle TLS connections keep OpenSSL's record buffers (about 17 KiB each) in this process: {Reason}")]
    private static partial void LogTlsBuffersKept(ILogger logger, string reason);
}
