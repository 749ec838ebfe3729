using System.Reflection;
using System.Text.RegularExpressions;
using CommandLine;
using Tunnel.Client.Cli;
using Tunnel.EndToEnd.Support;
using Tunnel.Server.Cli;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Lifecycle;

/// <summary>The command line an operator meets first: --help documents every flag with its default, and a mistake
/// is a usage error (exit 2) that names the flag, not a crash or a silent start.</summary>
[Trait("Category", "EndToEnd")]
public sealed partial class HelpAndUsageErrors(ITestOutputHelper output)
{
    /// <summary>Flags that are inputs with no default value: where to listen, what to trust, whom to reach.</summary>
    private static readonly HashSet<string> WithoutDefault =
        ["config", "listen", "cert", "key", "pkcs12", "password-env", "password-file", "ca", "upstream", "server"];

    [Theory(Timeout = 60_000)]
    [InlineData("tunnel-server", typeof(ServerRunOptions))]
    [InlineData("tunnel-client", typeof(ClientRunOptions))]
    public async Task Help_exits_0_and_lists_every_option_with_its_default(string program, Type options)
    {
        // Guards against a flag missing from --help (a new option added without help text, or hidden by a parser
        // change) and against an option whose default is not stated, which operators then have to guess.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(50));
        var binaries = await PublishedBinaries.GetAsync();

        var (exitCode, stdout, stderr) = await TunnelProcess.RunToExitAsync(binaries, program, ["--help"], output, deadline.Token);

        Assert.True(exitCode == 0, $"exit code {exitCode}: {stderr}");
        var help = ParseHelp(stdout);
        var declared = options.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<OptionAttribute>()?.LongName)
            .OfType<string>()
            .ToList();
        Assert.NotEmpty(declared);
        foreach (var flag in declared)
        {
            Assert.True(help.ContainsKey(flag), $"--{flag} is missing from {program} --help:\n{stdout}");
            if (!WithoutDefault.Contains(flag))
            {
                Assert.True(help[flag].Contains("Default:", StringComparison.Ordinal), $"--{flag} states no default: '{help[flag]}'");
            }
        }

        Assert.Contains("Exit codes:", stdout);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("tunnel-server")]
    [InlineData("tunnel-client")]
    public async Task An_unknown_flag_exits_2_and_names_it(string program)
    {
        // Guards against a typo in a unit file starting a daemon with defaults (or crashing with a stack trace)
        // instead of failing with a usage error a supervisor will not restart in a loop.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(50));
        var binaries = await PublishedBinaries.GetAsync();

        var (exitCode, stdout, stderr) = await TunnelProcess.RunToExitAsync(binaries, program, ["--listn", "127.0.0.1:0"], output, deadline.Token);

        Assert.Equal(2, exitCode);
        Assert.Contains("'listn' is unknown", stderr);
        Assert.Contains("--listen", stderr); // the usage follows the error
        Assert.DoesNotContain("Exception", stderr + stdout);
    }

    /// <summary>Flag name (without dashes) → its help text, joined across wrapped lines.</summary>
    private static Dictionary<string, string> ParseHelp(string help)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        string? current = null;
        foreach (var line in help.Split('\n'))
        {
            if (OptionLine().Match(line) is { Success: true } option)
            {
                current = option.Groups["flag"].Value;
                result[current] = option.Groups["text"].Value.Trim();
            }
            else if (current is not null && ContinuationLine().Match(line) is { Success: true } more)
            {
                result[current] += " " + more.Groups["text"].Value.Trim();
            }
            else
            {
                current = null;
            }
        }

        return result;
    }

    [GeneratedRegex(@"^  (?:-\w, )?--(?<flag>[a-z0-9-]+)\s{2,}(?<text>.*)$")]
    private static partial Regex OptionLine();

    [GeneratedRegex(@"^\s{10,}(?<text>\S.*)$")]
    private static partial Regex ContinuationLine();
}
