using Tunnel.Cli;
using Tunnel.Client.Cli;
using Tunnel.Common;
using Tunnel.Server.Cli;

namespace Tunnel.Tests.Cli;

/// <summary>Flags map to configuration keys in one place; help and usage errors behave as operators expect.</summary>
public sealed class CommandLineTests
{
    private static readonly Type[] ClientVerbs = [typeof(ClientRunOptions), typeof(VersionOptions)];

    [Fact(Timeout = 10_000)]
    public async Task Run_is_the_default_verb_and_its_flags_become_configuration_keys()
    {
        object? parsed = null;
        var exit = await CommandLineApp.RunAsync("tunnel-client",
            ["--listen", "127.0.0.1:3129", "--server", "a.test:443,b.test:443", "--idle-timeout", "5m", "--sni", "cover.example", "--log-format", "json"],
            ClientVerbs, verb => { parsed = verb; return Task.FromResult(0); });

        Assert.Equal(0, exit);
        var keys = FlagMapper.ToConfigKeys(Assert.IsType<ClientRunOptions>(parsed));
        Assert.Equal(("--listen", "127.0.0.1:3129"), keys["listen"]);
        Assert.Equal(("--server", "a.test:443,b.test:443"), keys["servers"]);
        Assert.Equal(("--idle-timeout", "5m"), keys["idleTimeout"]);
        Assert.Equal(("--sni", "cover.example"), keys["sni"]);
        Assert.Equal(("--log-format", "json"), keys["log:format"]);
        Assert.False(keys.ContainsKey("connectTimeout"));
    }

    [Fact(Timeout = 10_000)]
    public async Task Every_option_of_both_daemons_maps_to_a_known_configuration_key()
    {
        var clientKeys = FlagMapper.FlagNames(typeof(ClientRunOptions)).Keys;
        var serverKeys = FlagMapper.FlagNames(typeof(ServerRunOptions)).Keys;
        var clientSchema = Tunnel.Config.CommonSettings.Schema(Tunnel.Client.Options.ClientOptionsReader.TunnelKeys);
        var serverSchema = Tunnel.Config.CommonSettings.Schema(Tunnel.Server.Options.ServerOptionsReader.TunnelKeys);

        Assert.All(clientKeys, key => Assert.True(IsKnown(clientSchema, key), key));
        Assert.All(serverKeys, key => Assert.True(IsKnown(serverSchema, key), key));
        await Task.CompletedTask;
    }

    [Fact(Timeout = 10_000)]
    public async Task Help_lists_every_option_with_its_default_on_stdout_and_exits_0()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await CommandLineApp.RunAsync("tunnel-client", ["--help"], ClientVerbs, _ => Task.FromResult(99), stdout, stderr);

        Assert.Equal(ExitCodes.Ok, exit);
        var help = System.Text.RegularExpressions.Regex.Replace(stdout.ToString(), @"\s+", " ");
        Assert.Empty(stderr.ToString());
        foreach (var flag in FlagMapper.FlagNames(typeof(ClientRunOptions)).Values)
        {
            Assert.Contains(flag, help);
        }

        Assert.Contains("Default: 10s", help);
        Assert.Contains("Default: 1h", help);
        Assert.Contains("Exit codes:", help);
    }

    [Fact(Timeout = 10_000)]
    public async Task An_unknown_flag_is_a_usage_error_on_stderr_with_exit_2()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await CommandLineApp.RunAsync("tunnel-client", ["--lisen", "x"], ClientVerbs, _ => Task.FromResult(99), stdout, stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("lisen", stderr.ToString());
        Assert.Empty(stdout.ToString());
    }

    private static bool IsKnown(Tunnel.Config.ConfigSchema schema, string key)
    {
        var parts = key.Split(':');
        return parts.Length == 1
            ? schema.TunnelKeys.Contains(key) || schema.ProcessKeys.Contains(key)
            : schema.Sections.TryGetValue(parts[0], out var nested) && nested.Contains(parts[1]);
    }
}
