using Tunnel.Admission;
using Tunnel.Cli;
using Tunnel.Net;
using Tunnel.Net.ProxyProtocol;
using Tunnel.Server.Cli;
using Tunnel.Server.Options;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Config;

/// <summary>tunnel-server's edge settings (PROXY protocol, limits, decoy, ALPN): off by default, read from file,
/// environment or flags, and every mistake reported at once naming the key.</summary>
public sealed class EdgeOptionsTests : IDisposable
{
    private readonly TestPki _pki = new();

    [Fact]
    public void Everything_at_the_edge_is_off_by_default()
    {
        var tunnel = Read([]).Tunnels[0];

        Assert.Equal(EdgeOptions.Default, tunnel.Edge);
        Assert.Equal(ProxyProtocolMode.Off, tunnel.Edge.ProxyProtocol);
        Assert.Null(tunnel.Edge.UpstreamProxyProtocol);
        Assert.Equal(AdmissionLimits.Off, tunnel.Edge.Limits);
        Assert.Null(tunnel.Edge.Decoy);
        Assert.Empty(tunnel.Alpn);
    }

    [Fact]
    public void Valid_settings_are_read()
    {
        var tunnel = Read(new()
        {
            ["proxyProtocol"] = "any",
            ["upstreamProxyProtocol"] = "V2",
            ["maxConnectionsPerSource"] = "20",
            ["maxConnectionsPerIdentity"] = "off",
            ["handshakeRate"] = "50/s",
            ["decoy"] = "127.0.0.1:8080",
            ["alpn"] = "http/1.1,h2",
        }).Tunnels[0];

        Assert.Equal(new EdgeOptions(ProxyProtocolMode.Any, ProxyProtocolVersion.V2,
            new AdmissionLimits(20, null, new RateLimit(50, TimeSpan.FromSeconds(1), 50)), HostPort.Parse("127.0.0.1:8080")), tunnel.Edge);
        Assert.Equal(["http/1.1", "h2"], tunnel.Alpn);

        var perMinute = Read(new() { ["handshakeRate"] = "600/m", ["handshakeBurst"] = "20" }).Tunnels[0].Edge.Limits.HandshakeRate;
        Assert.Equal(new RateLimit(600, TimeSpan.FromMinutes(1), 20), perMinute);
        Assert.Equal("600/m (burst 20)", perMinute!.ToString());
    }

    [Fact]
    public void Every_mistake_is_reported_at_once_with_its_key()
    {
        var (options, errors) = TryRead(new()
        {
            ["proxyProtocol"] = "v3",
            ["upstreamProxyProtocol"] = "any",
            ["maxConnectionsPerSource"] = "-1",
            ["maxConnectionsPerIdentity"] = "ten",
            ["handshakeRate"] = "fast",
            ["decoy"] = "*:80",
            ["alpn"] = new string('x', 256),
        });

        Assert.Null(options);
        Assert.Contains(errors, e => e.Key == "proxyProtocol" && e.Message.Contains("'v3' is not one of: off, v1, v2, any"));
        Assert.Contains(errors, e => e.Key == "upstreamProxyProtocol" && e.Message.Contains("'any' is not one of: off, v1, v2"));
        Assert.Contains(errors, e => e.Key == "maxConnectionsPerSource" && e.Message.Contains("whole number from 1 to"));
        Assert.Contains(errors, e => e.Key == "maxConnectionsPerIdentity" && e.Message.Contains("or off"));
        Assert.Contains(errors, e => e.Key == "handshakeRate" && e.Message.Contains("not a rate") && e.Message.Contains("50/s"));
        Assert.Contains(errors, e => e.Key == "decoy" && e.Message.Contains("needs a host name or address"));
        Assert.Contains(errors, e => e.Key == "alpn" && e.Message.Contains("longer than 255 bytes"));
        Assert.All(errors, e => Assert.StartsWith("--", e.Source));
    }

    [Fact]
    public void A_decoy_that_is_also_an_upstream_is_refused_because_unauthenticated_clients_would_reach_the_proxy()
    {
        var (_, errors) = TryRead(new() { ["decoy"] = "127.0.0.1:3128" });

        var error = Assert.Single(errors);
        Assert.Equal("decoy", error.Key);
        Assert.Contains("unauthenticated clients would reach the upstream proxy", error.Message);
    }

    [Fact]
    public void A_burst_without_a_rate_is_refused()
    {
        var (_, errors) = TryRead(new() { ["handshakeBurst"] = "10" });

        Assert.Contains("has no effect without handshakeRate", Assert.Single(errors).Message);
    }

    [Fact]
    public void The_new_flags_map_to_their_keys()
    {
        var names = FlagMapper.FlagNames(typeof(ServerRunOptions));

        Assert.Equal("--proxy-protocol", names["proxyProtocol"]);
        Assert.Equal("--upstream-proxy-protocol", names["upstreamProxyProtocol"]);
        Assert.Equal("--max-connections-per-source", names["maxConnectionsPerSource"]);
        Assert.Equal("--max-connections-per-identity", names["maxConnectionsPerIdentity"]);
        Assert.Equal("--handshake-rate", names["handshakeRate"]);
        Assert.Equal("--handshake-burst", names["handshakeBurst"]);
        Assert.Equal("--decoy", names["decoy"]);
        Assert.Equal("--alpn", names["alpn"]);
    }

    [Fact]
    public void A_file_sets_them_per_tunnel_over_root_defaults()
    {
        var folder = Directory.CreateTempSubdirectory("tunnel-edge-").FullName;
        try
        {
            var server = _pki.IssueServer();
            var file = Path.Combine(folder, "server.json");
            File.WriteAllText(file, $$"""
                {
                  "cert": "{{server.Cert}}", "key": "{{server.Key}}", "ca": "{{_pki.CaPath}}", "upstreams": "127.0.0.1:3128",
                  "proxyProtocol": "v2",
                  "tunnels": {
                    "lb": { "listen": "127.0.0.1:0" },
                    "direct": { "listen": "127.0.0.1:1", "proxyProtocol": "off", "decoy": "127.0.0.1:8080", "alpn": ["http/1.1"] }
                  }
                }
                """);

            var options = TestOptions.Read(new Dictionary<string, string>(), ServerOptionsReader.Read, file);

            Assert.Equal(ProxyProtocolMode.V2, options.Tunnels.Single(t => t.Name == "lb").Edge.ProxyProtocol);
            var direct = options.Tunnels.Single(t => t.Name == "direct");
            Assert.Equal(ProxyProtocolMode.Off, direct.Edge.ProxyProtocol);
            Assert.Equal(HostPort.Parse("127.0.0.1:8080"), direct.Edge.Decoy);
            Assert.Equal(["http/1.1"], direct.Alpn);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private Server.Options.ServerOptions Read(Dictionary<string, string> values) => TestOptions.ReadServer(_pki, values);

    private (Server.Options.ServerOptions? Options, List<Tunnel.Config.ConfigError> Errors) TryRead(Dictionary<string, string> values) =>
        TestOptions.TryReadServer(_pki, values);

    public void Dispose() => _pki.Dispose();
}
