using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support;

/// <summary>A Squid run as root in the foreground (<c>squid -N -f conf</c>) on a free loopback port (of its network
/// namespace), ready once it answers an HTTP request. Disposing kills it by PID and copies its access.log into the test
/// output.</summary>
internal sealed class SquidProcess : IAsyncDisposable
{
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);

    private readonly ITestOutputHelper _output;
    private readonly NetworkNamespace _ns;
    private readonly bool _requireProxyHeader;

    private SquidProcess(string name, string folder, int port, ExternalProcess process, ITestOutputHelper output, NetworkNamespace ns,
        bool requireProxyHeader)
    {
        Name = name;
        Folder = folder;
        Port = port;
        Process = process;
        _output = output;
        _ns = ns;
        _requireProxyHeader = requireProxyHeader;
    }

    public string Name { get; }

    public string Folder { get; }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    public string ProxyUrl => $"http://127.0.0.1:{Port}";

    public ExternalProcess Process { get; }

    public string AccessLogPath => Path.Combine(Folder, "access.log");

    public string CacheLogPath => Path.Combine(Folder, "cache.log");

    public string[] AccessLog => Poll.ReadLines(AccessLogPath);

    public string[] CacheLog => Poll.ReadLines(CacheLogPath);

    /// <summary>Writes the configuration (base lines, <paramref name="policy"/>, then the closing access rules) and
    /// starts Squid.</summary>
    /// <param name="sandbox">Where its folder goes.</param>
    /// <param name="name">"inner", "outer"...</param>
    /// <param name="policy">Extra squid.conf lines.</param>
    /// <param name="output">Test output.</param>
    /// <param name="deadline">Bounds the start.</param>
    /// <param name="requireProxyHeader">Require a PROXY protocol header on every connection (see
    /// <see cref="SquidConfig.Base"/>).</param>
    public static async Task<SquidProcess> StartAsync(Sandbox sandbox, string name, IEnumerable<string> policy, ITestOutputHelper output,
        CancellationToken deadline, NetworkNamespace? ns = null, bool requireProxyHeader = false)
    {
        ns ??= NetworkNamespace.Own;
        _ = RequiredTool.Squid;
        var folder = sandbox.Folder(name, writableByAll: true);
        var port = FreePort.Next();
        var config = SquidConfig.Base(name, folder, port, requireProxyHeader).Concat(policy).Concat(SquidConfig.Closing);
        var configPath = Path.Combine(folder, "squid.conf");
        await File.WriteAllLinesAsync(configPath, config, deadline);

        return await LaunchAsync(name, folder, port, ns, requireProxyHeader, output, deadline);
    }

    /// <summary>SIGTERM, as <c>systemctl stop</c>: Squid closes its port at once, gives transactions in progress
    /// <c>shutdown_lifetime</c> (1 s here) and exits. Returns its exit code.</summary>
    public async Task<int> StopAsync(CancellationToken deadline)
    {
        Process.Terminate();
        return await Process.WaitForExitAsync(deadline);
    }

    /// <summary>A new Squid with the same configuration, folder and port, once this one has stopped (the same
    /// address comes back, as after <c>systemctl restart</c>). Ready once it answers HTTP.</summary>
    public Task<SquidProcess> RestartAsync(CancellationToken deadline)
    {
        if (!Process.HasExited)
        {
            throw new InvalidOperationException($"{Name} squid (pid {Process.Pid}) is still running; stop it first");
        }

        return LaunchAsync(Name, Folder, Port, _ns, _requireProxyHeader, _output, deadline);
    }

    private static async Task<SquidProcess> LaunchAsync(string name, string folder, int port, NetworkNamespace ns, bool requireProxyHeader,
        ITestOutputHelper output, CancellationToken deadline)
    {
        // -d 1: the important cache.log lines also go to stderr, which ends up in the test output. -n: Squid names its
        // shared memory segments (/dev/shm/<service>-cf__*.shm) after the service and removes those of the same name
        // when it starts, so Squids starting side by side under the default name "squid" (parallel test classes, a
        // running demo) fail with "shm_open(/squid-cf__metadata.shm): File exists"; one name per instance avoids that.
        var configPath = Path.Combine(folder, "squid.conf");
        var process = ns.Start($"{name} squid", RequiredTool.Squid, ["-N", "-d", "1", "-n", $"tunnele2e{name}{port}", "-f", configPath], output,
            workingDirectory: folder);
        var result = new SquidProcess(name, folder, port, process, output, ns, requireProxyHeader);
        try
        {
            await Poll.UntilAsync(async token =>
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"{name} squid exited with code {process.ExitCode}:\n{process.Stderr}");
                }

                return await AnswersHttpAsync(ns, port, requireProxyHeader, token);
            }, $"{name} squid to answer HTTP on 127.0.0.1:{port} in {ns}", deadline);
            return result;
        }
        catch
        {
            await result.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until access.log has a line matching <paramref name="match"/> (Squid writes it when the
    /// transaction ends).</summary>
    public Task<string> WaitForAccessLogAsync(Func<string, bool> match, string what, CancellationToken deadline) =>
        Poll.UntilLineAsync(AccessLogPath, match, $"{Name} squid access.log: {what}", deadline);

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        try
        {
            _output.WriteLine($"---- {Name} squid access.log ----");
            foreach (var line in AccessLog)
            {
                _output.WriteLine("  " + line);
            }
        }
        catch (InvalidOperationException)
        {
            // The test already finished.
        }
    }

    /// <summary>Any HTTP answer counts: a bare "GET /" is a bad request to a proxy, answered without going anywhere.
    /// One attempt gets two seconds; the caller's deadline bounds the polling.</summary>
    private static async Task<bool> AnswersHttpAsync(NetworkNamespace ns, int port, bool proxyHeader, CancellationToken deadline)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        attempt.CancelAfter(AttemptTimeout);
        var cancellationToken = attempt.Token;
        using var socket = ns.NewTcpSocket();
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
            if (proxyHeader)
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes($"PROXY TCP4 127.0.0.1 127.0.0.1 1 {port}\r\n"), SocketFlags.None, cancellationToken);
            }

            await socket.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray(), SocketFlags.None, cancellationToken);
            var buffer = new byte[5];
            var read = 0;
            while (read < buffer.Length)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellationToken);
                if (n == 0)
                {
                    return false;
                }

                read += n;
            }

            return Encoding.ASCII.GetString(buffer) == "HTTP/";
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
        {
            return false;
        }
    }
}
