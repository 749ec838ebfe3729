using Tunnel.Server.Options;
using Tunnel.Tests.Support;
using Tunnel.Tls;

namespace Tunnel.Tests.Config;

/// <summary>tunnel-server's TLS session cache: on by default with stunnel's size and timeout, 0 turns it off, and a
/// wrong value is refused naming the key.</summary>
public sealed class SessionCacheOptionsTests : IDisposable
{
    private readonly TestPki _pki = new();

    [Fact]
    public void The_cache_is_on_by_default_with_stunnels_size_and_timeout()
    {
        var cache = Read([]).Tunnels[0].SessionCache;

        Assert.Equal(new TlsSessionCache(1000, TimeSpan.FromSeconds(300)), cache);
        Assert.True(cache.Enabled);
    }

    [Fact]
    public void Size_and_timeout_are_read_and_zero_turns_the_cache_off()
    {
        Assert.Equal(new TlsSessionCache(50, TimeSpan.FromMinutes(10)),
            Read(new() { ["sessionCacheSize"] = "50", ["sessionCacheTimeout"] = "10m" }).Tunnels[0].SessionCache);
        Assert.False(Read(new() { ["sessionCacheSize"] = "0" }).Tunnels[0].SessionCache.Enabled);
    }

    [Fact]
    public void Wrong_values_are_refused_with_their_key()
    {
        var (options, errors) = TryRead(new() { ["sessionCacheSize"] = "-1", ["sessionCacheTimeout"] = "0" });

        Assert.Null(options);
        Assert.Contains(errors, e => e.Key == "sessionCacheSize" && e.Message.Contains("whole number from 0 to"));
        Assert.Contains(errors, e => e.Key == "sessionCacheTimeout" && e.Message.Contains("not a positive duration"));
    }

    private ServerOptions Read(Dictionary<string, string> values) => TestOptions.ReadServer(_pki, values);

    private (Server.Options.ServerOptions? Options, List<Tunnel.Config.ConfigError> Errors) TryRead(Dictionary<string, string> values) =>
        TestOptions.TryReadServer(_pki, values);

    public void Dispose() => _pki.Dispose();
}
