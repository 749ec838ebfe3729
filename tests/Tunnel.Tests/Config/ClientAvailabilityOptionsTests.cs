using Tunnel.Cli;
using Tunnel.Client.Cli;
using Tunnel.Client.Options;
using Tunnel.Config;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Config;

/// <summary>tunnel-client's firstByteTimeout (15 s by default, seconds rather than the hour of idleTimeout) and
/// maxConnectionsPerSource (off by default), from keys and flags; maxConnections as configured, for reloads.</summary>
public sealed class ClientAvailabilityOptionsTests
{
    [Fact]
    public void The_first_byte_timeout_defaults_to_15_seconds_and_the_per_source_limit_to_off()
    {
        var tunnel = Read([]).Tunnels[0];

        Assert.Equal(TimeSpan.FromSeconds(15), tunnel.FirstByteTimeout);
        Assert.Null(tunnel.Limits.MaxPerSource);
    }

    [Fact]
    public void Both_are_read_and_mistakes_name_their_key()
    {
        var tunnel = Read(new() { ["firstByteTimeout"] = "3s", ["maxConnectionsPerSource"] = "50" }).Tunnels[0];
        Assert.Equal(TimeSpan.FromSeconds(3), tunnel.FirstByteTimeout);
        Assert.Equal(50, tunnel.Limits.MaxPerSource);
        Assert.Equal(Timeout.InfiniteTimeSpan, Read(new() { ["firstByteTimeout"] = "0" }).Tunnels[0].FirstByteTimeout);

        var (options, errors) = TryRead(new() { ["firstByteTimeout"] = "soon", ["maxConnectionsPerSource"] = "-3" });
        Assert.Null(options);
        Assert.Contains(errors, e => e.Key == "firstByteTimeout" && e.Message.Contains("not a duration"));
        Assert.Contains(errors, e => e.Key == "maxConnectionsPerSource" && e.Message.Contains("whole number from 1 to"));
    }

    [Fact]
    public void The_flags_map_to_their_keys()
    {
        var names = FlagMapper.FlagNames(typeof(ClientRunOptions));

        Assert.Equal("--first-byte-timeout", names["firstByteTimeout"]);
        Assert.Equal("--max-connections-per-source", names["maxConnectionsPerSource"]);
    }

    [Fact]
    public void MaxConnections_as_configured_is_kept_apart_from_the_derived_default()
    {
        var derived = Read([]).Process;
        Assert.Null(derived.ConfiguredMaxConnections);
        Assert.True(derived.MaxConnections >= 1);

        var set = Read(new() { ["maxConnections"] = "123" }).Process;
        Assert.Equal(123, set.ConfiguredMaxConnections);
        Assert.Equal(123, set.MaxConnections);
    }

    private static ClientOptions Read(Dictionary<string, string> values) =>
        TryRead(values) is { Options: { } options } ? options : throw new InvalidOperationException(string.Join("; ", TryRead(values).Errors));

    private static (ClientOptions? Options, List<ConfigError> Errors) TryRead(Dictionary<string, string> values)
    {
        var all = new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["servers"] = "127.0.0.1:443",
        };
        foreach (var (key, value) in values)
        {
            all[key] = value;
        }

        return TestOptions.TryRead(all, ClientOptionsReader.Read);
    }
}
