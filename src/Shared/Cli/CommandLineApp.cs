using CommandLine;
using CommandLine.Text;
using Tunnel.Common;

namespace Tunnel.Cli;

/// <summary>Parses a command line into one of a program's verbs. <c>--help</c> prints to stdout and exits 0; a wrong
/// flag prints the error and the usage to stderr and exits 2.</summary>
internal static class CommandLineApp
{
    /// <param name="program">Name shown in help, e.g. <c>tunnel-server</c> or <c>tunnel-server certs</c>.</param>
    /// <param name="args">The arguments after the program name.</param>
    /// <param name="verbs">Option types, each with a <see cref="VerbAttribute"/>.</param>
    /// <param name="dispatch">Runs the parsed verb and returns the exit code.</param>
    /// <param name="stdout">Where help goes (default: the console).</param>
    /// <param name="stderr">Where usage errors go (default: the console).</param>
    /// <param name="defaultVerb">The verb a bare <c>--help</c> describes; <see langword="null"/> lists the verbs.</param>
    /// <param name="exitCodes">The "Exit codes:" help line; <see langword="null"/> for the daemons' codes.</param>
    public static async Task<int> RunAsync(string program, string[] args, Type[] verbs, Func<object, Task<int>> dispatch,
        TextWriter? stdout = null, TextWriter? stderr = null, string? defaultVerb = "run", string? exitCodes = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        using var parser = new Parser(settings =>
        {
            settings.HelpWriter = null;
            settings.AutoVersion = false;
            settings.CaseInsensitiveEnumValues = true;
            settings.CaseSensitive = true;
        });
        // "--help" with no verb describes the default verb (run), whose flags are what operators look for.
        if (args is ["--help"] or ["-h"] or ["help"])
        {
            args = defaultVerb is null ? ["help"] : [defaultVerb, "--help"];
        }

        var result = parser.ParseArguments(args, verbs);
        if (result is Parsed<object> parsed)
        {
            return await dispatch(parsed.Value);
        }

        var errors = ((NotParsed<object>)result).Errors.ToList();
        var helpRequested = errors.Any(e => e is HelpRequestedError or HelpVerbRequestedError);
        var help = HelpText.AutoBuild(result, h =>
        {
            h.Heading = $"{program} {VersionInfo.Version}";
            h.Copyright = "";
            h.AdditionalNewLineAfterOption = false;
            h.AutoVersion = false;
            h.MaximumDisplayWidth = 110;
            if (result.TypeInfo.Current is { } current && Verb(current) is { HelpText.Length: > 0 } verb && verbs.Contains(current))
            {
                h.AddPreOptionsLine($"{program} {verb.Name}: {verb.HelpText}");
            }

            h.AddPostOptionsLine($"Commands: {string.Join(", ", verbs.Select(VerbName))}, help. '{program} COMMAND --help' describes one.");
            h.AddPostOptionsLine(exitCodes ?? $"Exit codes: {ExitCodes.Ok} ok, {ExitCodes.Failure} failure or forced drain, {ExitCodes.Usage} usage error, " +
                $"{ExitCodes.Config} invalid configuration or certificates, {ExitCodes.Startup} cannot start (e.g. address in use).");
            return HelpText.DefaultParsingErrorsHandler(result, h);
        }, e => e, verbsIndex: errors.Any(e => e is NoVerbSelectedError or BadVerbSelectedError or HelpVerbRequestedError { Matched: false }));

        if (helpRequested)
        {
            await stdout.WriteLineAsync(help);
            return ExitCodes.Ok;
        }

        await stderr.WriteLineAsync(help);
        return ExitCodes.Usage;
    }

    private static string VerbName(Type type) => Verb(type)?.Name ?? type.Name;

    private static VerbAttribute? Verb(Type type) =>
        System.Reflection.CustomAttributeExtensions.GetCustomAttributes<VerbAttribute>(type, false).FirstOrDefault();
}
