using System.Collections;
using Tunnel.Client.Options;
using Tunnel.Server.Options;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Config;

/// <summary>Configuration is validated before anything listens, and every error names its source and key.</summary>
public sealed class OptionsValidationTests : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("tunnel-config-").FullName;

    [Fact]
    public void Every_error_is_reported_at_once_with_the_key_and_what_to_do()
    {
        var (options, errors) = TestOptions.TryRead(new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1",
            ["idleTimeout"] = "5x",
            ["tlsMinVersion"] = "1.0",
        }, ServerOptionsReader.Read);

        Assert.Null(options);
        Assert.Contains(errors, e => e.Key == "listen" && e.Message.Contains("has no port"));
        Assert.Contains(errors, e => e.Key == "idleTimeout" && e.Message.Contains("not a duration"));
        Assert.Contains(errors, e => e.Key == "tlsMinVersion" && e.Message.Contains("1.3"));
        Assert.Contains(errors, e => e.Key == "upstreams" && e.Message.Contains("TUNNEL_UPSTREAMS"));
        Assert.Contains(errors, e => e.Key == "cert");
        Assert.Contains(errors, e => e.Key == "ca");
        Assert.All(errors.Where(e => e.Key is "listen" or "idleTimeout"), e => Assert.StartsWith("--", e.Source));
    }

    [Fact]
    public void A_misspelt_key_handed_in_as_a_flag_is_an_error_with_the_right_spelling()
    {
        // Keys that do not come through the command-line parser (a test's dictionary of flags) are checked too.
        var (options, errors) = TestOptions.TryRead(new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["servers"] = "tunnel.test:443",
            ["minVersion"] = "1.2",
            ["log:levl"] = "debug",
        }, ClientOptionsReader.Read);

        Assert.Null(options);
        Assert.Contains(errors, e => e is { Key: "minVersion", Source: "--minVersion" } && e.Message.Contains("did you mean 'tlsMinVersion'"));
        Assert.Contains(errors, e => e.Key == "log:levl" && e.Message.Contains("did you mean 'level'"));
    }

    [Theory]
    [InlineData(typeof(Tunnel.Client.Cli.ClientRunOptions))]
    [InlineData(typeof(Tunnel.Server.Cli.ServerRunOptions))]
    public void Every_flag_of_a_daemon_names_a_key_its_configuration_knows(Type flagsType)
    {
        var keys = Tunnel.Cli.FlagMapper.FlagNames(flagsType);
        Func<Tunnel.Config.ConfigDocument, List<Tunnel.Config.ConfigError>, object?> read = flagsType == typeof(Tunnel.Client.Cli.ClientRunOptions)
            ? ClientOptionsReader.Read
            : ServerOptionsReader.Read;

        var (_, errors) = TestOptions.TryRead(keys.ToDictionary(k => k.Key, _ => "x"), read);

        Assert.NotEmpty(keys);
        Assert.DoesNotContain(errors, e => e.Message.StartsWith("unknown setting", StringComparison.Ordinal));
    }

    [Fact]
    public void A_file_error_names_the_file_and_the_full_key_and_suggests_the_right_spelling()
    {
        var file = WriteConfig("""
            {
              "tunnels": {
                "web": { "listen": "127.0.0.1:0", "servers": "tunnel.test:443", "idelTimeout": "5m", "connectTimeout": "soon" }
              }
            }
            """);

        var (_, errors) = TestOptions.TryRead(new Dictionary<string, string>(), ClientOptionsReader.Read, file);

        var typo = Assert.Single(errors, e => e.Key == "tunnels:web:idelTimeout");
        Assert.Equal(file, typo.Source);
        Assert.Contains("did you mean 'idleTimeout'", typo.Message);
        Assert.Contains(errors, e => e.Key == "tunnels:web:connectTimeout" && e.Source == file);
    }

    [Fact]
    public void A_log_file_in_a_folder_that_cannot_be_written_is_an_error_naming_the_fix()
    {
        var missing = Path.Combine(_folder, "no-such-folder", "server.log");
        var writable = Path.Combine(_folder, "server.log");

        var (_, errors) = TestOptions.TryRead(new Dictionary<string, string> { ["log:file"] = missing }, ServerOptionsReader.Read);
        var (_, fine) = TestOptions.TryRead(new Dictionary<string, string> { ["log:file"] = writable }, ServerOptionsReader.Read);

        var error = Assert.Single(errors, e => e.Key == "log:file");
        Assert.Contains(Path.GetDirectoryName(missing)!, error.Message);
        Assert.Contains("emptyDir", error.Message);
        Assert.DoesNotContain(fine, e => e.Key == "log:file");
        Assert.Empty(Directory.GetFiles(_folder, ".tunnel-write-check-*"));
    }

    [Fact]
    public void Broken_json_is_reported_with_the_file_and_line()
    {
        var file = WriteConfig("{ \"listen\": \"127.0.0.1:0\",, }");

        var (_, errors) = TestOptions.TryRead(new Dictionary<string, string>(), ClientOptionsReader.Read, file);

        var error = Assert.Single(errors);
        Assert.Contains(file, error.Source);
        Assert.Contains("line", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Several_tunnels_inherit_root_defaults_and_may_override_them()
    {
        var client = _pki.IssueClient();
        var file = WriteConfig($$"""
            {
              "ca": "{{_pki.CaPath}}", "cert": "{{client.Cert}}", "key": "{{client.Key}}",
              "idleTimeout": "10m",
              "tunnels": {
                "a": { "listen": "127.0.0.1:0", "servers": ["one.test:443", "two.test:443"] },
                "b": { "listen": "127.0.0.1:0", "servers": "three.test:443", "idleTimeout": "2m", "sni": "" }
              }
            }
            """);

        var options = TestOptions.Read(new Dictionary<string, string>(), ClientOptionsReader.Read, file);

        Assert.Equal(["a", "b"], options.Tunnels.Select(t => t.Name));
        var a = options.Tunnels[0];
        Assert.Equal(TimeSpan.FromMinutes(10), a.Timeouts.Idle);
        Assert.Equal(2, a.Servers.Count);
        Assert.Equal("one.test", a.ServerName);
        Assert.Equal("one.test", a.Sni);
        var b = options.Tunnels[1];
        Assert.Equal(TimeSpan.FromMinutes(2), b.Timeouts.Idle);
        Assert.Equal("", b.Sni);
        Assert.Equal(_pki.CaPath, b.CaPath);
    }

    [Fact]
    public void Environment_overrides_the_file_and_flags_override_both()
    {
        var file = WriteConfig("""{ "listen": "127.0.0.1:0", "servers": "file.test:443", "connectTimeout": "1s", "idleTimeout": "1m" }""");
        var environment = new Hashtable { ["TUNNEL_CONNECTTIMEOUT"] = "2s", ["TUNNEL_IDLETIMEOUT"] = "2m" };

        var (options, errors) = TestOptions.TryRead(new Dictionary<string, string> { ["idleTimeout"] = "3m" },
            ClientOptionsReader.Read, file, environment);

        Assert.Empty(errors);
        Assert.Equal(TimeSpan.FromSeconds(2), options!.Tunnels[0].Timeouts.Connect);
        Assert.Equal(TimeSpan.FromMinutes(3), options.Tunnels[0].Timeouts.Idle);
    }

    [Fact]
    public void An_error_in_an_environment_variable_names_the_variable()
    {
        var environment = new Hashtable { ["TUNNEL_CLOSETIMEOUT"] = "never", ["TUNNEL_LISTEN"] = "127.0.0.1:0", ["TUNNEL_SERVERS"] = "a.test:443" };

        var (_, errors) = TestOptions.TryRead(new Dictionary<string, string>(), ClientOptionsReader.Read, environment: environment);

        var error = Assert.Single(errors);
        Assert.Equal("environment variable TUNNEL_CLOSETIMEOUT", error.Source);
    }

    [Fact]
    public void Relative_paths_resolve_against_the_configuration_file_folder()
    {
        File.Copy(_pki.CaPath, Path.Combine(_folder, "ca.pem"));
        var file = WriteConfig("""{ "listen": "127.0.0.1:0", "servers": "a.test:443", "ca": "ca.pem" }""");

        var options = TestOptions.Read(new Dictionary<string, string>(), ClientOptionsReader.Read, file);

        Assert.Equal(Path.Combine(_folder, "ca.pem"), options.Tunnels[0].CaPath);
    }

    [Fact]
    public void Two_tunnels_on_one_address_are_refused()
    {
        var file = WriteConfig("""
            { "servers": "a.test:443",
              "tunnels": { "a": { "listen": "127.0.0.1:3129" }, "b": { "listen": "127.0.0.1:3129" } } }
            """);

        var (_, errors) = TestOptions.TryRead(new Dictionary<string, string>(), ClientOptionsReader.Read, file);

        Assert.Contains(errors, e => e.Message.Contains("a and b both listen on 127.0.0.1:3129"));
    }

    [Fact]
    public void Missing_certificate_files_are_named()
    {
        var (_, errors) = TestOptions.TryRead(new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["upstreams"] = "127.0.0.1:3128",
            ["cert"] = "/nonexistent/server.pem",
            ["ca"] = _pki.CaPath,
        }, ServerOptionsReader.Read);

        Assert.Contains(errors, e => e.Key == "cert" && e.Message.Contains("/nonexistent/server.pem") && e.Message.Contains("does not exist"));
    }

    [Fact]
    public void Defaults_are_the_documented_ones()
    {
        var options = TestOptions.Read(new Dictionary<string, string> { ["listen"] = "127.0.0.1:0", ["servers"] = "a.test:443" }, ClientOptionsReader.Read);

        var tunnel = options.Tunnels[0];
        Assert.Equal(TimeSpan.FromSeconds(10), tunnel.Timeouts.Connect);
        Assert.Equal(TimeSpan.FromSeconds(10), tunnel.Timeouts.Handshake);
        Assert.Equal(TimeSpan.FromHours(1), tunnel.Timeouts.Idle);
        Assert.Equal(TimeSpan.FromSeconds(60), tunnel.Timeouts.Close);
        Assert.Equal(Timeout.InfiniteTimeSpan, tunnel.Timeouts.MaxLifetime);
        Assert.True(tunnel.KeepAlive.Enabled);
        Assert.Equal(Tunnel.Tls.TlsVersion.Tls13, tunnel.MinVersion);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Process.ShutdownTimeout);
    }

    [Fact]
    public void The_outbound_proxy_url_gives_address_user_and_password_and_bad_ones_are_explained()
    {
        var options = TestOptions.Read(new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["servers"] = "a.test:443",
            ["proxy"] = "http://alice:p%40ss@proxy.corp:8080",
        }, ClientOptionsReader.Read);
        var proxy = options.Tunnels[0].Proxy!;
        Assert.Equal(new Tunnel.Net.HostPort("proxy.corp", 8080), proxy.Address);
        Assert.Equal(("alice", "p@ss"), (proxy.User, proxy.Password));
        Assert.Equal("http://alice@proxy.corp:8080", proxy.ToString());

        var (_, errors) = TestOptions.TryRead(new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["servers"] = "a.test:443",
            ["proxy"] = "socks5://bob:secret@proxy.corp:1080",
        }, ClientOptionsReader.Read);
        var error = Assert.Single(errors);
        Assert.Contains("not an http:// proxy URL", error.Message);
        Assert.DoesNotContain("secret", error.Message);
    }

    private string WriteConfig(string json)
    {
        var path = Path.Combine(_folder, $"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    public void Dispose()
    {
        _pki.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
