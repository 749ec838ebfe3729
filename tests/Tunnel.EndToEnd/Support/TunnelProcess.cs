using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support;

/// <summary>A published tunnel-server or tunnel-client running as a process with JSON logs on stderr. It listens on
/// 127.0.0.1 port 0 unless told otherwise; the real address is read back from its "listening" log event.</summary>
internal sealed class TunnelProcess : IAsyncDisposable
{
    private TunnelProcess(ExternalProcess process, string host, int port)
    {
        Process = process;
        Host = host;
        Port = port;
    }

    public ExternalProcess Process { get; }

    /// <summary>The address it listens on, as logged ("127.0.0.1").</summary>
    public string Host { get; }

    public int Port { get; }

    public string Address => $"{Host}:{Port}";

    public IEnumerable<TunnelLogEvent> Events =>
        Process.Stderr.Split('\n').Select(TunnelLogEvent.Parse).OfType<TunnelLogEvent>();

    /// <summary>Starts tunnel-server with one tunnel in front of <paramref name="upstream"/>.</summary>
    public static Task<TunnelProcess> StartServerAsync(PublishedBinaries binaries, string upstream, (string Cert, string Key) identity,
        string clientCa, ITestOutputHelper output, CancellationToken deadline, params string[] extra) =>
        StartAsync(binaries, "tunnel-server",
            ["--listen", "127.0.0.1:0", "--upstream", upstream, "--cert", identity.Cert, "--key", identity.Key, "--ca", clientCa, .. extra],
            output, deadline);

    /// <summary>Starts tunnel-client with one tunnel to <paramref name="server"/>, expecting <paramref name="serverName"/>.</summary>
    public static Task<TunnelProcess> StartClientAsync(PublishedBinaries binaries, string server, string serverName,
        (string Cert, string Key) identity, string serverCa, ITestOutputHelper output, CancellationToken deadline, params string[] extra) =>
        StartAsync(binaries, "tunnel-client",
            ["--listen", "127.0.0.1:0", "--server", server, "--server-name", serverName, "--cert", identity.Cert, "--key", identity.Key,
                "--ca", serverCa, .. extra],
            output, deadline);

    /// <summary>Starts <paramref name="program"/> with <paramref name="arguments"/> (which must include --listen) in
    /// <paramref name="ns"/>, the test's own network namespace by default. <paramref name="openFileLimit"/> runs it
    /// under that RLIMIT_NOFILE (soft and hard), through <c>prlimit</c>, which execs it: the PID is still the daemon's.
    /// <paramref name="environment"/> adds variables (e.g. OPENSSL_CONF). <paramref name="underNohup"/> starts it
    /// through <c>nohup</c> (SIGHUP ignored, as an operator's shell would leave it), which also execs it.</summary>
    public static async Task<TunnelProcess> StartAsync(PublishedBinaries binaries, string program, IEnumerable<string> arguments,
        ITestOutputHelper output, CancellationToken deadline, NetworkNamespace? ns = null, int? openFileLimit = null,
        IReadOnlyDictionary<string, string>? environment = null, bool underNohup = false)
    {
        string[] command = [binaries.Of(program), .. arguments, "--log-format", "json"];
        if (openFileLimit is { } limit)
        {
            command = [RequiredTool.Prlimit, $"--nofile={limit}:{limit}", "--", .. command];
        }

        if (underNohup)
        {
            command = [RequiredTool.Nohup, .. command];
        }

        var variables = environment is null
            ? PublishedBinaries.RuntimeVariables
            : PublishedBinaries.RuntimeVariables.Concat(environment).ToDictionary();
        var process = (ns ?? NetworkNamespace.Own).Start(program, command[0], command[1..], output, variables, format: TunnelLogEvent.Format);
        try
        {
            var line = await process.WaitForLineAsync(l => TunnelLogEvent.Parse(l)?.EventName is "ServerListening" or "ClientListening",
                "its 'listening' log event", deadline);
            var address = TunnelLogEvent.Parse(line)!["Address"] ?? throw new InvalidOperationException($"no Address in: {line}");
            var colon = address.LastIndexOf(':');
            return new TunnelProcess(process, address[..colon], int.Parse(address[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <paramref name="program"/> with exactly <paramref name="arguments"/> until it exits by itself
    /// (for usage and start-up errors); returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunToExitAsync(PublishedBinaries binaries, string program,
        IEnumerable<string> arguments, ITestOutputHelper output, CancellationToken deadline)
    {
        await using var process = ExternalProcess.Start(program, binaries.Of(program), arguments, output, PublishedBinaries.RuntimeVariables);
        var exitCode = await process.WaitForExitAsync(deadline);
        return (exitCode, process.Stdout, process.Stderr);
    }

    /// <summary>Waits for a log event matching <paramref name="match"/> (already logged or still to come; only still to
    /// come with <paramref name="onlyNew"/>).</summary>
    public async Task<TunnelLogEvent> WaitForEventAsync(Func<TunnelLogEvent, bool> match, string what, CancellationToken deadline, bool onlyNew = false)
    {
        var line = await Process.WaitForLineAsync(l => TunnelLogEvent.Parse(l) is { } e && match(e), what, deadline, onlyNew);
        return TunnelLogEvent.Parse(line)!;
    }

    /// <summary>The port of the admin endpoint (started with --admin-listen), from its log event.</summary>
    public async Task<int> AdminPortAsync(CancellationToken deadline)
    {
        var address = (await WaitForEventAsync(e => e.EventName == "AdminListening", "its admin endpoint", deadline))["Address"]!;
        return int.Parse(address[(address.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>SIGTERM, then the exit code once the process has drained and exited.</summary>
    public async Task<int> StopAsync(CancellationToken deadline)
    {
        Process.Terminate();
        return await Process.WaitForExitAsync(deadline);
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
