using Microsoft.Extensions.Logging;

namespace Tunnel.Hosting;

/// <summary>Log lines of a configuration reload.</summary>
internal static partial class ReloadLog
{
    [LoggerMessage(EventId = 20, EventName = "ReloadRequested", Level = LogLevel.Information, Message = "SIGHUP: re-reading the configuration and reloading certificates")]
    public static partial void Requested(ILogger logger);

    [LoggerMessage(EventId = 21, EventName = "ReloadConfigInvalid", Level = LogLevel.Error,
        Message = "reload: the configuration is invalid, keeping everything as it runs: {Error}")]
    public static partial void ConfigInvalid(ILogger logger, string error);

    [LoggerMessage(EventId = 22, EventName = "ReloadNeedsRestart", Level = LogLevel.Warning,
        Message = "reload: {What}; this takes effect only after a restart")]
    public static partial void NeedsRestart(ILogger logger, string what);

    [LoggerMessage(EventId = 25, EventName = "ConfigWarning", Level = LogLevel.Warning, Message = "configuration: {Warning}")]
    public static partial void ConfigWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 26, EventName = "SignalsTakenBack", Level = LogLevel.Information,
        Message = "{Signals} ignored when the process started (nohup, or a shell's background job): handled anyway (SIGHUP reloads, SIGUSR1 reopens logs, SIGTERM/SIGINT/SIGQUIT drain and stop)")]
    public static partial void SignalsTakenBack(ILogger logger, string signals);

    [LoggerMessage(EventId = 23, EventName = "ReloadDone", Level = LogLevel.Information, Message = "reload complete")]
    public static partial void Done(ILogger logger);

    [LoggerMessage(EventId = 24, EventName = "ReloadPartial", Level = LogLevel.Error,
        Message = "reload: some tunnels kept their previous certificates (see the errors above)")]
    public static partial void Partial(ILogger logger);
}
