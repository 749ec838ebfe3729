using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Faults;

/// <summary>tunnel-server under a low open-file limit (<c>prlimit --nofile</c>). With a connection limit above what
/// the limit allows, idle connections exhaust the descriptors: accept() fails with EMFILE, the listener backs off
/// exponentially (logged) instead of spinning, the process survives (it keeps descriptors in reserve for the
/// runtime), and once connections close it accepts again, including the connection that waited in the backlog. With the default connection limit, derived from the open-file
/// limit, it never gets that far: connections over the limit wait in the backlog and nothing fails.</summary>
[Trait("Category", "EndToEnd")]
public sealed class RunningOutOfFileDescriptorsBacksOffAndRecovers(ITestOutputHelper output)
{
    /// <summary>The .NET runtime alone holds about 120 descriptors (two per loaded assembly), so a limit of 200 leaves
    /// room for a few dozen connections.</summary>
    private const int OpenFileLimit = 200;

    /// <summary>A spinning accept loop takes a whole core (a fair share of two loaded cores is still far above this);
    /// one that backs off takes next to nothing.</summary>
    private const double MaxCpuShare = 0.3;

    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(3);

    /// <summary>Accept failures (at the 1 s maximum backoff) the exhaustion is held for.</summary>
    private const int HeldFailures = 21;

    [Fact(Timeout = 120_000)]
    public async Task With_max_connections_above_the_open_file_limit_accept_backs_off_without_spinning_and_recovers()
    {
        // Guards against EMFILE turning the accept loop into a busy loop (100 % CPU, a log line per iteration), against
        // it killing the listener or the process, and against a server that does not recover once descriptors are free.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Descriptor CA");
        await using var parts = new AsyncDisposables();
        var upstream = parts.Add(new MarkedUpstream("fd-limited"));
        var (cert, key) = pki.IssueServer(ProxyChain.ServerName);
        var server = parts.Add(await TunnelProcess.StartAsync(binaries, "tunnel-server",
            ["--listen", "127.0.0.1:0", "--upstream", upstream.Address, "--cert", cert, "--key", key, "--ca", pki.CaPath, "--max-connections", "10000"],
            output, deadline.Token, openFileLimit: OpenFileLimit));
        var clientIdentity = pki.IssueClient(ProxyChain.ClientName);
        var client = parts.Add(await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName, clientIdentity, pki.CaPath,
            output, deadline.Token, "--pool-size", "0", "--health-check-interval", "0"));
        var entry = new IPEndPoint(IPAddress.Loopback, client.Port);
        var serverEndPoint = new IPEndPoint(IPAddress.Loopback, server.Port);
        var pid = server.Process.Pid;

        Assert.Equal("fd-limited", await RequestAsync(entry, "warm-up", deadline.Token));
        var baseline = ProcessStats.OpenFiles(pid);

        // Idle authenticated connections, as tunnel-clients' warm pools keep: one descriptor each on the server.
        var idle = new List<SslStream>();
        var waiting = new List<Task<SslStream>>(); // handshakes not done in time: left in the backlog (or a slow machine)
        var resetAtEdge = 0;
        while (!server.Events.Any(e => e.EventName == "AcceptBackoff"))
        {
            Assert.True(idle.Count + waiting.Count + resetAtEdge < OpenFileLimit, $"{idle.Count} idle connections and accept never failed");
            var connecting = TlsTestClient.ConnectAsync(serverEndPoint, pki.Root, clientIdentity, cancellationToken: deadline.Token);
            try
            {
                idle.Add(await connecting.WaitAsync(Answer, deadline.Token));
            }
            catch (TimeoutException)
            {
                waiting.Add(connecting);
            }
            catch (IOException)
            {
                // Reset at the edge of exhaustion (the accepted socket could not be served): counted, not fatal.
                resetAtEdge++;
            }
        }

        var fdsAtExhaustion = ProcessStats.OpenFiles(pid);
        var first = await server.WaitForEventAsync(e => e.EventName == "AcceptBackoff", "the first AcceptBackoff", deadline.Token);
        if (waiting.Count == 0)
        {
            waiting.Add(TlsTestClient.ConnectAsync(serverEndPoint, pki.Root, clientIdentity, cancellationToken: deadline.Token));
        }

        // The backoff doubles from 10 ms to its 1 s maximum (about 1.3 s). From then on the exhaustion is held for
        // HeldFailures more failures, a second apart when the loop backs off (microseconds apart if it spun): long
        // enough for idle thread-pool threads to retire (20 s), so that the burst of completions when the connections
        // close needs new threads, which the runtime cannot start without free descriptors. The CPU is measured over it.
        await server.WaitForEventAsync(e => e.EventName == "AcceptBackoff" && Backoff(e) >= 1000, "the backoff to reach 1 s", deadline.Token);
        await server.WaitForEventAsync(e => e.EventName == "AcceptBackoff", "the next accept failure", deadline.Token, onlyNew: true);
        var watch = Stopwatch.StartNew();
        var cpuAtStart = ProcessStats.CpuTicks(pid);
        for (var i = 0; i < HeldFailures; i++)
        {
            await server.WaitForEventAsync(e => e.EventName == "AcceptBackoff", "the next accept failure", deadline.Token, onlyNew: true);
        }

        var window = watch.Elapsed;
        var cpu = (double)(ProcessStats.CpuTicks(pid) - cpuAtStart) / ProcessStats.TicksPerSecond / window.TotalSeconds;
        var backoffs = server.Events.Where(e => e.EventName == "AcceptBackoff").Select(Backoff).ToList();
        Assert.False(server.Process.HasExited, "tunnel-server died of EMFILE");
        Assert.False(waiting[^1].IsCompleted, "the connection over the limit was served while descriptors were exhausted");

        var clock = Stopwatch.StartNew();
        foreach (var stream in idle)
        {
            await stream.DisposeAsync();
        }

        foreach (var queued in await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(10), deadline.Token))
        {
            await queued.DisposeAsync();
        }

        var queuedServedAfter = clock.Elapsed;
        var nodes = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            nodes.Add(await RequestAsync(entry, $"after-{i}", deadline.Token));
        }

        var recoveredAfter = clock.Elapsed;
        output.WriteLine("==== figures ====");
        output.WriteLine($"tunnel-server under prlimit --nofile={OpenFileLimit}:{OpenFileLimit} with --max-connections 10000: " +
            $"{baseline} descriptors open after a warm-up connection");
        output.WriteLine($"{idle.Count} idle TLS connections exhausted it ({fdsAtExhaustion} descriptors open); {waiting.Count} more waited in the backlog, {resetAtEdge} were reset at the edge");
        output.WriteLine($"first warning: {first.Message}");
        output.WriteLine($"AcceptBackoff lines while exhausted: {backoffs.Count} (backoff ms: {string.Join(", ", backoffs)})");
        output.WriteLine($"CPU while exhausted: {cpu:P1} of one core over {HeldFailures} accept failures {LoadAttempt.Ms(window)} apart in all");
        output.WriteLine($"after the idle connections closed: the waiting handshakes completed in {LoadAttempt.Ms(queuedServedAfter)}, " +
            $"5 tunneled requests answered within {LoadAttempt.Ms(recoveredAfter)}");

        Assert.Contains("too many open files", first.Message, StringComparison.Ordinal);
        Assert.Equal([10, 20, 40, 80, 160, 320, 640, 1000], backoffs.Take(8));
        Assert.All(backoffs.Skip(8), b => Assert.Equal(1000, b));
        Assert.True(window >= HeldFailures * TimeSpan.FromSeconds(0.9), $"{HeldFailures} accept failures in {window}: the loop is not backing off");
        Assert.True(cpu < MaxCpuShare, $"tunnel-server used {cpu:P0} of a core while it could not accept");
        Assert.All(nodes, n => Assert.Equal("fd-limited", n));
        Assert.False(server.Process.HasExited);
        Assert.DoesNotContain(server.Events, e => e.EventName is "HandlerFailed" or "AcceptLoopFailed");
    }

    [Theory(Timeout = 120_000)]
    [InlineData(256, false)]
    [InlineData(360, true)]
    public async Task The_default_connection_limit_queues_connections_before_the_open_file_limit_is_reached(int openFileLimit, bool admin)
    {
        // Guards the default maxConnections: derived from the open-file limit, it must leave room for what the
        // process already holds (the runtime keeps two descriptors per assembly) and two per relayed connection, so
        // that a full server queues new connections in the backlog instead of failing them with EMFILE.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Descriptor Default CA");
        await using var parts = new AsyncDisposables();
        var upstream = parts.Add(new MarkedUpstream("fd-default"));
        var (cert, key) = pki.IssueServer(ProxyChain.ServerName);
        string[] adminListen = admin ? ["--admin-listen", "127.0.0.1:0"] : [];
        var server = parts.Add(await TunnelProcess.StartAsync(binaries, "tunnel-server",
            ["--listen", "127.0.0.1:0", "--upstream", upstream.Address, "--cert", cert, "--key", key, "--ca", pki.CaPath, .. adminListen],
            output, deadline.Token, openFileLimit: openFileLimit));
        var client = parts.Add(await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName,
            pki.IssueClient(ProxyChain.ClientName), pki.CaPath, output, deadline.Token, "--pool-size", "0", "--health-check-interval", "0"));
        var entry = new IPEndPoint(IPAddress.Loopback, client.Port);
        var pid = server.Process.Pid;
        if (admin)
        {
            // Monitoring scrapes it: serving these loads what the admin endpoint needs.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var adminPort = await server.AdminPortAsync(deadline.Token);
            foreach (var path in new[] { "/readyz", "/metrics", "/healthz" })
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{adminPort}{path}"), deadline.Token);
                Assert.True(response.IsSuccessStatusCode, $"{path}: {response.StatusCode}");
            }
        }

        // Tunneled connections held open (ECHO, idle once answered): two descriptors each on the server.
        var held = new List<HeldConnection>();
        HeldConnection? waiting = null;
        try
        {
            while (waiting is null)
            {
                Assert.True(held.Count < openFileLimit, $"{held.Count} connections served under an open-file limit of {openFileLimit}");
                var connection = await HeldConnection.OpenAsync(entry, $"hold-{held.Count}", deadline.Token);
                try
                {
                    // A failure (EMFILE on accept or on the upstream dial) throws here.
                    Assert.Equal("fd-default", await connection.Answer.WaitAsync(Answer, deadline.Token));
                    held.Add(connection);
                }
                catch (TimeoutException)
                {
                    waiting = connection;
                }
            }

            var fdsWhenFull = ProcessStats.OpenFiles(pid);
            var clock = Stopwatch.StartNew();
            foreach (var connection in held)
            {
                connection.Dispose();
            }

            var node = await waiting.Answer.WaitAsync(TimeSpan.FromSeconds(6), deadline.Token);
            var servedAfter = clock.Elapsed;

            output.WriteLine("==== figures ====");
            output.WriteLine($"tunnel-server under prlimit --nofile={openFileLimit}:{openFileLimit}{(admin ? " with the admin endpoint" : "")}, default maxConnections: " +
                $"{held.Count} tunneled connections served, the next one waited in the backlog");
            output.WriteLine($"descriptors open when full: {fdsWhenFull} of {openFileLimit}");
            output.WriteLine($"the waiting connection was answered {LoadAttempt.Ms(servedAfter)} after the others closed");

            Assert.Equal("fd-default", node);
            Assert.True(held.Count >= 10, $"only {held.Count} connections fit");
            Assert.True(fdsWhenFull < openFileLimit, $"{fdsWhenFull} descriptors open with a limit of {openFileLimit}");
            Assert.DoesNotContain(server.Events, e => e.EventName is "AcceptBackoff" or "UpstreamFailed" or "HandlerFailed" or "HandshakeFailed");
        }
        finally
        {
            foreach (var connection in held)
            {
                connection.Dispose();
            }

            waiting?.Dispose();
        }
    }

    private static double Backoff(TunnelLogEvent e) => double.Parse(e["BackoffMs"]!, CultureInfo.InvariantCulture);

    /// <summary>One short request through the tunnel; returns the node that answered.</summary>
    private static async Task<string> RequestAsync(IPEndPoint entry, string id, CancellationToken deadline)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        limit.CancelAfter(TimeSpan.FromSeconds(10));
        var attempt = new LoadAttempt { Index = 0, Id = id, Started = TimeSpan.Zero, StartedUtc = DateTimeOffset.UtcNow };
        await MarkedClient.RequestAsync(NetworkNamespace.Own, entry, attempt, limit.Token);
        return attempt.Node!;
    }

    /// <summary>An ECHO connection through the tunnel, kept open and idle once its answer came.</summary>
    private sealed class HeldConnection : IDisposable
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;

        private HeldConnection(Socket socket, NetworkStream stream, Task<string> answer)
        {
            _socket = socket;
            _stream = stream;
            Answer = answer;
        }

        public Task<string> Answer { get; }

        public static async Task<HeldConnection> OpenAsync(IPEndPoint entry, string id, CancellationToken deadline)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(entry, deadline);
            var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"ECHO {id}\n"), deadline);
            return new HeldConnection(socket, stream, MarkedClient.ReadNodeAsync(stream, id, deadline));
        }

        public void Dispose()
        {
            _stream.Dispose();
            _socket.Dispose();
        }
    }
}
