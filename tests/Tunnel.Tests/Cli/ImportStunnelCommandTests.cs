using Tunnel.Cli;
using Tunnel.Client.Options;
using Tunnel.Common;
using Tunnel.Config.Stunnel;
using Tunnel.Server.Options;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Cli;

/// <summary>`import-stunnel FILE`: the JSON on stdout (which the daemon reads back), warnings and notes on stderr,
/// exit 0; errors with file:line on stderr, nothing on stdout, exit 3.</summary>
public sealed class ImportStunnelCommandTests : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("tunnel-import-").FullName;

    [Fact(Timeout = 20_000)]
    public async Task A_convertible_file_prints_json_the_daemon_reads_and_warnings_on_stderr()
    {
        var (cert, key) = _pki.IssueServer();
        var path = Write($"foreground = yes\n[tunnel]\naccept = 443\nconnect = 127.0.0.1:3128\ncert = {cert}\nkey = {key}\nverifyChain = yes\nCAfile = {_pki.CaPath}\n");
        var verb = await ParseAsync("tunnel-server", ["import-stunnel", path]);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await ImportStunnelCommand.RunAsync(verb, StunnelRole.Server, ServerOptionsReader.Read, stdout, stderr);

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains($"tunnel-server: warning: {path}:1: foreground: no effect", stderr.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("would not start", stderr.ToString(), StringComparison.Ordinal);
        var json = Path.Combine(_folder, "server.json");
        await File.WriteAllTextAsync(json, stdout.ToString());
        var options = TestOptions.Read(new Dictionary<string, string>(), ServerOptionsReader.Read, json);
        Assert.Equal("127.0.0.1:3128", Assert.Single(Assert.Single(options.Tunnels).Upstreams).ToString());
    }

    [Fact(Timeout = 20_000)]
    public async Task An_unconvertible_file_prints_nothing_on_stdout_and_exits_3_with_each_line()
    {
        var path = Write("[tunnel]\nclient = yes\naccept = 127.0.0.1:3129\nconnect = tunnel.example:443\nPSKsecrets = /etc/psk.txt\nexec = /bin/sh\n");
        var verb = await ParseAsync("tunnel-client", ["import-stunnel", path]);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await ImportStunnelCommand.RunAsync(verb, StunnelRole.Client, ClientOptionsReader.Read, stdout, stderr);

        Assert.Equal(ExitCodes.Config, exit);
        Assert.Equal("", stdout.ToString());
        Assert.Contains($"{path}:5: PSKsecrets:", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains($"{path}:6: exec:", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("(2 problems)", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task Missing_files_on_this_machine_are_reported_with_the_stunnel_line_and_output_goes_to_the_file()
    {
        var path = Write("[tunnel]\nclient = yes\naccept = 127.0.0.1:3129\nconnect = tunnel.example:443\ncert = /nonexistent/site.pem\n");
        var output = Path.Combine(_folder, "client.json");
        var verb = await ParseAsync("tunnel-client", ["import-stunnel", path, "--output", output]);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await ImportStunnelCommand.RunAsync(verb, StunnelRole.Client, ClientOptionsReader.Read, stdout, stderr);

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("", stdout.ToString());
        Assert.Contains($"would not start on this machine: {path}:5 (cert): tunnels:tunnel:cert", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("\"/nonexistent/site.pem\"", await File.ReadAllTextAsync(output), StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task The_file_argument_is_required()
    {
        var stderr = new StringWriter();

        var exit = await CommandLineApp.RunAsync("tunnel-client", ["import-stunnel"], [typeof(ImportStunnelOptions)], _ => Task.FromResult(0),
            new StringWriter(), stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("FILE", stderr.ToString(), StringComparison.Ordinal);
    }

    private static async Task<ImportStunnelOptions> ParseAsync(string program, string[] args)
    {
        object? parsed = null;
        var exit = await CommandLineApp.RunAsync(program, args, [typeof(ImportStunnelOptions)], verb => { parsed = verb; return Task.FromResult(0); });
        Assert.Equal(0, exit);
        return Assert.IsType<ImportStunnelOptions>(parsed);
    }

    private string Write(string text)
    {
        var path = Path.Combine(_folder, $"stunnel-{Guid.NewGuid():N}.conf");
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        _pki.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
