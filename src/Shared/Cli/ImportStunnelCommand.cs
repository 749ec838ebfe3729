using Tunnel.Common;
using Tunnel.Config;
using Tunnel.Config.Stunnel;

namespace Tunnel.Cli;

/// <summary><c>import-stunnel FILE</c>: converts a stunnel.conf for this daemon and prints the JSON. Errors (options
/// Tunnel cannot honour, services of the other side) and warnings (options with no effect, behaviour that changes)
/// go to stderr, each naming file:line and the option.</summary>
internal static class ImportStunnelCommand
{
    /// <param name="validate">The daemon's configuration reader: the converted JSON is checked with it as the daemon
    /// would at start-up, and what would stop it here (a certificate file missing on this machine...) is reported as
    /// a warning.</param>
    public static async Task<int> RunAsync(ImportStunnelOptions options, StunnelRole role, Func<ConfigDocument, List<ConfigError>, object?> validate,
        TextWriter stdout, TextWriter stderr)
    {
        var program = role.Program();
        var conversion = StunnelConverter.Convert(options.File, role);
        foreach (var warning in conversion.Warnings)
        {
            await stderr.WriteLineAsync($"{program}: warning: {warning}");
        }

        if (!conversion.Succeeded)
        {
            await stderr.WriteLineAsync($"{program}: {options.File} cannot be converted ({conversion.Errors.Count} problem{(conversion.Errors.Count == 1 ? "" : "s")}):");
            foreach (var error in conversion.Errors)
            {
                await stderr.WriteLineAsync("  - " + error);
            }

            return ExitCodes.Config;
        }

        foreach (var note in conversion.Notes)
        {
            await stderr.WriteLineAsync($"{program}: note: {note}");
        }

        var json = conversion.ToJson();
        var errors = new List<ConfigError>();
        var document = ConfigDocument.Load(options.File, new Dictionary<string, (string, string)>(), errors, new Dictionary<string, string>(),
            converted: new ConvertedFile(json, conversion.Origins));
        if (errors.Count == 0)
        {
            validate(document, errors);
        }

        foreach (var error in errors)
        {
            await stderr.WriteLineAsync($"{program}: warning: the converted configuration would not start on this machine: {error}");
        }

        if (options.Output is { } output)
        {
            await File.WriteAllTextAsync(output, json);
            await stderr.WriteLineAsync($"{program}: wrote {output}");
        }
        else
        {
            await stdout.WriteAsync(json);
        }

        return ExitCodes.Ok;
    }
}
