using Microsoft.Extensions.Logging;
using Tunnel.Cli;
using Tunnel.Common;
using Tunnel.Config;
using Tunnel.Logging;
using Tunnel.Tls;

namespace Tunnel.Hosting;

/// <summary>The <c>run</c> verb of both daemons: read and validate the configuration (reporting every error), set
/// up logging, load certificates, bind, serve until a signal, drain.</summary>
internal static class DaemonProgram
{
    public static async Task<int> RunAsync<TOptions>(
        string program,
        CommonRunOptions flags,
        Func<ConfigDocument, List<ConfigError>, TOptions?> read,
        Func<TOptions, ILoggerFactory, TimeProvider, IDaemonApp<TOptions>> build,
        TextWriter? stderr = null)
        where TOptions : class, IDaemonOptions<ITunnelOptions>
    {
        Runtime.SocketCompletions.InlineUnlessConfigured();
        stderr ??= Console.Error;
        var (options, errors, warnings) = ReadConfiguration(flags, read);
        if (options is null)
        {
            await ReportAsync(stderr, program, $"the configuration is invalid ({errors.Count} problem{(errors.Count == 1 ? "" : "s")}); nothing was started:",
                errors.Select(e => e.ToString()));
            return ExitCodes.Config;
        }

        SystemTrustStore.SkipUnlessNeeded(options.Tunnels.Any(t => t.UsesSystemTrust));
        using var logging = LoggingSetup.Create(options.Process.Log);
        var logger = logging.Factory.CreateLogger(program);
        foreach (var warning in warnings)
        {
            ReloadLog.ConfigWarning(logger, warning);
        }

        IDaemonApp<TOptions> app;
        try
        {
            app = build(options, logging.Factory, TimeProvider.System);
        }
        catch (CertificateLoadException ex)
        {
            await ReportAsync(stderr, program, "cannot load certificates; nothing was started:", ex.Message.Split(Environment.NewLine));
            return ExitCodes.Config;
        }

        await using (app)
        using (var signals = new SignalHandlers(app.Host.RequestStop, () => Reload(app, flags, read, logger), logging.ReopenFiles))
        {
            if (signals.TakenBack.Count > 0)
            {
                ReloadLog.SignalsTakenBack(logger, string.Join(", ", signals.TakenBack));
            }

            return await app.Host.RunAsync();
        }
    }

    /// <summary>SIGHUP: re-read the file, environment and flags; an invalid configuration changes nothing.</summary>
    private static void Reload<TOptions>(IDaemonApp<TOptions> app, CommonRunOptions flags,
        Func<ConfigDocument, List<ConfigError>, TOptions?> read, ILogger logger)
        where TOptions : class
    {
        ReloadLog.Requested(logger);
        app.Host.Notifier?.Reloading();
        try
        {
            var (options, errors, _) = ReadConfiguration(flags, read);
            if (options is null)
            {
                foreach (var error in errors)
                {
                    ReloadLog.ConfigInvalid(logger, error.ToString());
                }

                return;
            }

            if (app.Reload(options))
            {
                ReloadLog.Done(logger);
            }
            else
            {
                ReloadLog.Partial(logger);
            }
        }
        finally
        {
            app.Host.Notifier?.Ready("reloaded");
        }
    }

    private static (TOptions? Options, List<ConfigError> Errors, List<string> Warnings) ReadConfiguration<TOptions>(CommonRunOptions flags,
        Func<ConfigDocument, List<ConfigError>, TOptions?> read)
        where TOptions : class
    {
        var errors = new List<ConfigError>();
        var stunnelWarnings = new List<string>();
        var converted = Config.Stunnel.StunnelConfigLoader.Prepare(flags.ConfigFile, flags.ConfigFormat, flags.StunnelRole, errors, stunnelWarnings);
        var document = ConfigDocument.Load(flags.ConfigFile, FlagMapper.ToConfigKeys(flags), errors, flagNames: FlagMapper.FlagNames(flags.GetType()), converted: converted);
        document.Warnings.AddRange(stunnelWarnings);
        var options = errors.Count == 0 ? read(document, errors) : null;
        return (errors.Count == 0 ? options : null, errors, document.Warnings);
    }

    private static async Task ReportAsync(TextWriter stderr, string program, string headline, IEnumerable<string> lines)
    {
        await stderr.WriteLineAsync($"{program}: {headline}");
        foreach (var line in lines)
        {
            await stderr.WriteLineAsync("  - " + line);
        }
    }
}
