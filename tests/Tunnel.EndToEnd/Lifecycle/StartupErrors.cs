using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Lifecycle;

/// <summary>An operator's mistakes stop the daemon at start-up with a distinct exit code and a message that says
/// what to fix: 3 for configuration and certificates, 4 when it cannot listen.</summary>
[Trait("Category", "EndToEnd")]
public sealed class StartupErrors(ITestOutputHelper output) : IDisposable
{
    private readonly Sandbox _sandbox = new("startup");
    private readonly TestPki _pki = new("E2E Startup CA");

    [Theory(Timeout = 60_000)]
    [InlineData("tunnel-server")]
    [InlineData("tunnel-client")]
    public async Task An_invalid_config_file_exits_3_naming_the_file_and_every_bad_key(string program)
    {
        // Guards against configuration errors being reported one at a time, without the file or key (the operator
        // cannot find what to fix), or surfacing as a crash or a start with defaults.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(50));
        var binaries = await PublishedBinaries.GetAsync();
        var (cert, key) = program == "tunnel-server" ? _pki.IssueServer() : _pki.IssueClient();
        var tunnel = new Dictionary<string, object>
        {
            ["listen"] = "127.0.0.1:0",
            [program == "tunnel-server" ? "upstreams" : "servers"] = new[] { "127.0.0.1:3128" },
            ["cert"] = cert,
            ["key"] = key,
            ["ca"] = _pki.CaPath,
            ["connectTimeout"] = "soon",
            ["idleTimeout"] = "-5s",
        };
        var config = _sandbox.WriteText($"{program}-edge.json", JsonSerializer.Serialize(new { tunnels = new { edge = tunnel } }));

        var (exitCode, _, stderr) = await TunnelProcess.RunToExitAsync(binaries, program, ["--config", config], output, deadline.Token);

        Assert.Equal(3, exitCode);
        Assert.Contains("(2 problems)", stderr);
        Assert.Contains($"{Path.GetFileName(config)}: tunnels:edge:connectTimeout: 'soon'", stderr);
        Assert.Contains($"{Path.GetFileName(config)}: tunnels:edge:idleTimeout: '-5s'", stderr);
        Assert.Contains("nothing was started", stderr);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("tunnel-server")]
    [InlineData("tunnel-client")]
    public async Task A_world_readable_private_key_exits_3_with_the_chmod_fix(string program)
    {
        // Guards the threat-model promise that an operator's mistake with a private key is a clear start-up
        // error: a key others can read is treated as leaked, never loaded.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(50));
        var binaries = await PublishedBinaries.GetAsync();
        var (cert, key) = program == "tunnel-server" ? _pki.IssueServer() : _pki.IssueClient();
        var readable = _sandbox.Path("readable.key");
        File.Copy(key, readable);
        File.SetUnixFileMode(readable, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var (exitCode, _, stderr) = await TunnelProcess.RunToExitAsync(binaries, program,
            [.. Required(program), "--cert", cert, "--key", readable, "--ca", _pki.CaPath], output, deadline.Token);

        Assert.Equal(3, exitCode);
        Assert.Contains($"chmod 600 '{readable}'", stderr);
        Assert.Contains("mode 0644", stderr);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("tunnel-server")]
    [InlineData("tunnel-client")]
    public async Task A_port_in_use_exits_4_and_says_so(string program)
    {
        // Guards against a daemon that cannot bind running on without a listener (a health check would pass while
        // nothing is served) or exiting with a code a supervisor cannot tell from a crash.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(50));
        var binaries = await PublishedBinaries.GetAsync();
        var (cert, key) = program == "tunnel-server" ? _pki.IssueServer() : _pki.IssueClient();
        using var occupant = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        occupant.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        occupant.Listen();
        var port = ((IPEndPoint)occupant.LocalEndPoint!).Port;

        var (exitCode, _, stderr) = await TunnelProcess.RunToExitAsync(binaries, program,
            [.. Required(program, $"127.0.0.1:{port}"), "--cert", cert, "--key", key, "--ca", _pki.CaPath], output, deadline.Token);

        Assert.Equal(4, exitCode);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}: address already in use", stderr);
    }

    /// <summary>The flags each program needs besides its certificates.</summary>
    private static string[] Required(string program, string listen = "127.0.0.1:0") => program == "tunnel-server"
        ? ["--listen", listen, "--upstream", "127.0.0.1:3128"]
        : ["--listen", listen, "--server", "127.0.0.1:4433", "--server-name", "tunnel.test"];

    public void Dispose()
    {
        _pki.Dispose();
        _sandbox.Dispose();
    }
}
