using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;
using Serilog.Formatting;
using Serilog.Formatting.Display;
using Serilog.Sinks.SystemConsole.Themes;

namespace Tunnel.Logging;

/// <summary>Builds the process's logger: Serilog behind Microsoft.Extensions.Logging, so code logs through
/// source-generated <c>[LoggerMessage]</c> methods with stable event ids. Logs go to stderr, keeping stdout for
/// command output.</summary>
internal sealed class LoggingSetup : IDisposable
{
    private const string TextTemplate = "{Timestamp:yyyy-MM-ddTHH:mm:ss.fffzzz} {Level:u3} {Message:lj}{NewLine}{Exception}";

    private readonly Serilog.Core.Logger _serilog;
    private readonly ReopenableFileSink? _file;

    private LoggingSetup(Serilog.Core.Logger serilog, ReopenableFileSink? file)
    {
        _serilog = serilog;
        _file = file;
        Factory = new SerilogLoggerFactory(serilog, dispose: false);
    }

    public ILoggerFactory Factory { get; }

    public static LoggingSetup Create(LogOptions options)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(ToSerilog(options.Level))
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("System", LogEventLevel.Warning);

        if (options.Format == LogFormat.Json)
        {
            configuration.WriteTo.Console(new JsonLogFormatter(), standardErrorFromLevel: LogEventLevel.Verbose);
        }
        else
        {
            var theme = Console.IsErrorRedirected ? ConsoleTheme.None : AnsiConsoleTheme.Code;
            configuration.WriteTo.Console(outputTemplate: TextTemplate, theme: theme, standardErrorFromLevel: LogEventLevel.Verbose,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture);
        }

        ReopenableFileSink? file = null;
        if (options.File is not null)
        {
            file = new ReopenableFileSink(options.File, CreateFormatter(options.Format));
            configuration.WriteTo.Sink(file);
        }

        return new LoggingSetup(configuration.CreateLogger(), file);
    }

    /// <summary>Closes and reopens the log file, if there is one (SIGUSR1).</summary>
    public void ReopenFiles() => _file?.Reopen();

    public void Dispose()
    {
        Factory.Dispose();
        _serilog.Dispose();
        _file?.Dispose();
    }

    private static ITextFormatter CreateFormatter(LogFormat format) => format == LogFormat.Json
        ? new JsonLogFormatter()
        : new MessageTemplateTextFormatter(TextTemplate, System.Globalization.CultureInfo.InvariantCulture);

    private static LogEventLevel ToSerilog(LogLevel level) => level switch
    {
        LogLevel.Trace => LogEventLevel.Verbose,
        LogLevel.Debug => LogEventLevel.Debug,
        LogLevel.Information => LogEventLevel.Information,
        LogLevel.Warning => LogEventLevel.Warning,
        LogLevel.Error => LogEventLevel.Error,
        _ => LogEventLevel.Fatal,
    };
}
