using System.Security.Cryptography;
using Tunnel.Cli;
using Tunnel.Common;
using Tunnel.Tls;

namespace Tunnel.Certs.Cli;

/// <summary>The <c>certs</c> command of both daemons: a small private CA in a state folder. Never interactive;
/// everything it needs comes from flags and the environment.</summary>
internal static class CertsProgram
{
    public const string ExitCodesHelp = "Exit codes: 0 ok, 1 failure (including a negative 'inspect --ca' verdict), 2 usage error, 3 invalid input or state (no CA, exists already, unreadable file).";

    private static Type[] Verbs =>
    [
        typeof(InitCaOptions), typeof(IssueOptions), typeof(RevokeOptions), typeof(CrlOptions),
        typeof(ListOptions), typeof(InspectOptions), typeof(RenewOptions), typeof(ExportP12Options), typeof(ExportK8sSecretOptions),
    ];

    /// <param name="program">How to name ourselves in help and errors, e.g. <c>tunnel-server certs</c>.</param>
    /// <param name="args">The arguments after <c>certs</c>.</param>
    /// <param name="context">Output streams, clock and environment; the console's when omitted.</param>
    /// <param name="cancellationToken">Stops a network inspection early.</param>
    public static Task<int> RunAsync(string program, string[] args, CertsContext? context = null, CancellationToken cancellationToken = default)
    {
        context ??= CertsContext.FromConsole();
        return CommandLineApp.RunAsync(program, args, Verbs, options => DispatchAsync(program, options, context, cancellationToken),
            context.Out, context.Error, defaultVerb: null, exitCodes: ExitCodesHelp);
    }

    private static async Task<int> DispatchAsync(string program, object options, CertsContext context, CancellationToken cancellationToken)
    {
        try
        {
            return options switch
            {
                InitCaOptions o => await InitCaCommand.RunAsync(o, context),
                IssueOptions o => await IssueCommand.RunAsync(o, context),
                RevokeOptions o => await RevokeCommand.RunAsync(o, context),
                CrlOptions o => await CrlCommand.RunAsync(o, context),
                ListOptions o => await ListCommand.RunAsync(o, context),
                InspectOptions o => await InspectCommand.RunAsync(o, context, cancellationToken),
                RenewOptions o => await RenewCommand.RunAsync(o, context),
                ExportP12Options o => await ExportP12Command.RunAsync(o, context),
                ExportK8sSecretOptions o => await ExportK8sSecretCommand.RunAsync(o, context),
                _ => ExitCodes.Usage,
            };
        }
        catch (CertsException ex)
        {
            await context.Error.WriteLineAsync($"{program}: {ex.Message}");
            if (ex.ExitCode == ExitCodes.Usage)
            {
                await context.Error.WriteLineAsync($"'{program} {VerbOf(options)} --help' describes the flags.");
            }

            return ex.ExitCode;
        }
        catch (CertificateLoadException ex)
        {
            await context.Error.WriteLineAsync($"{program}: {ex.Message}");
            return ExitCodes.Config;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            // Disk full, permissions, a failing key operation: nothing the operator typed, so "failure", with the
            // system's own words.
            await context.Error.WriteLineAsync($"{program}: failed: {ex.Message}");
            return ExitCodes.Failure;
        }
    }

    private static string VerbOf(object options) =>
        System.Reflection.CustomAttributeExtensions.GetCustomAttributes<CommandLine.VerbAttribute>(options.GetType(), false).FirstOrDefault()?.Name ?? "COMMAND";
}
