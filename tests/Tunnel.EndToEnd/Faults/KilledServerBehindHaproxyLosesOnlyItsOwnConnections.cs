using System.Diagnostics;
using System.Net;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Faults;

/// <summary>Three tunnel-servers behind HAProxy (TCP mode, PROXY v2, HTTP checks on each server's /readyz), one
/// tunnel-client in front, long-running streams and a steady rate of new connections: <c>kill -9</c> of one server
/// costs the connections it carried and nothing else. HAProxy takes it out within its check interval, and every
/// connection started after that goes to the two others. The same with multiplexing: the killed server's multiplexed
/// connection takes its streams with it, the client replaces it through HAProxy, and new connections carry on as
/// streams on the survivors.</summary>
[Trait("Category", "EndToEnd")]
public sealed class KilledServerBehindHaproxyLosesOnlyItsOwnConnections(ITestOutputHelper output)
{
    private const int Streams = 6;
    private static readonly string[] Nodes = ["node-1", "node-2", "node-3"];
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(25);

    /// <summary>Connections started this long after the kill must all succeed.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    /// <summary>HAProxy checks every 500 ms and marks a server down on the first failure; this leaves a loaded machine
    /// room and still fails if the checks do not notice a dead server.</summary>
    private static readonly TimeSpan MaxTimeToDown = TimeSpan.FromSeconds(5);

    [Theory(Timeout = 120_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Only_connections_on_the_killed_server_fail_and_none_started_a_second_after_the_kill(bool multiplex)
    {
        // Guards against a dead server taking more than its own connections with it: a client that keeps dialling
        // it, a balancer health check that does not see it (/readyz served by a dead process), a retry that does not
        // go elsewhere, or a circuit breaker that shuts out the whole balancer address after a burst of failures.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("kill9");
        using var pki = new TestPki("E2E Fleet CA");
        await using var parts = new AsyncDisposables();
        var upstreams = Nodes.Select(n => parts.Add(new MarkedUpstream(n))).ToArray();
        var servers = await parts.StartAllAsync(Nodes.Select((node, i) => TunnelProcess.StartServerAsync(binaries, upstreams[i].Address,
            Fleet.IssueNodeCertificate(pki, node), pki.CaPath, output, deadline.Token, "--proxy-protocol", "v2", "--admin-listen", "127.0.0.1:0")));
        var fleet = new List<HaproxyServer>();
        for (var i = 0; i < Nodes.Length; i++)
        {
            fleet.Add(new HaproxyServer(Nodes[i], servers[i].Address, await servers[i].AdminPortAsync(deadline.Token)));
        }

        var haproxy = parts.Add(await HaproxyProcess.StartAsync(sandbox, fleet, output, deadline.Token));
        var client = parts.Add(await TunnelProcess.StartClientAsync(binaries, haproxy.Address, ProxyChain.ServerName,
            pki.IssueClient(ProxyChain.ClientName), pki.CaPath, output, deadline.Token, "--pool-size", "0", "--multiplex", multiplex ? "on" : "off"));
        var entry = new IPEndPoint(IPAddress.Loopback, client.Port);

        var clock = Stopwatch.StartNew();
        var load = SteadyLoad.Start("req", Interval, maxConnections: 2000, timeout: TimeSpan.FromSeconds(15), clock,
            (attempt, token) => MarkedClient.RequestAsync(NetworkNamespace.Own, entry, attempt, token));
        var streams = Enumerable.Range(0, Streams).Select(i => EchoStream.Start(NetworkNamespace.Own, entry, $"stream-{i}", clock, deadline.Token)).ToList();
        await Task.WhenAll(streams.Select(s => s.Node)).WaitAsync(deadline.Token);
        await Poll.UntilAsync(() => load.Succeeded >= 40, "40 short connections through the fleet", deadline.Token);

        // The victim carries the most streams (round-robin over three puts at least two of six on one; multiplexed, the
        // streams share two TLS connections, so at least three of six are on one).
        var victim = streams.GroupBy(s => s.Node.Result).OrderByDescending(g => g.Count()).First().Key;
        var victimServer = servers[Array.IndexOf(Nodes, victim)];
        await Poll.UntilAsync(() => Nodes.All(haproxy.IsUp), "HAProxy to hold every server up", deadline.Token);
        var down = haproxy.WaitForServerDownAsync(victim, deadline.Token);
        var killedAt = clock.Elapsed;
        victimServer.Process.KillNow();
        var gone = Task.Run(async () =>
        {
            await victimServer.Process.WaitForExitAsync(deadline.Token);
            return clock.Elapsed - killedAt;
        });
        var downLine = await down;
        var downAfter = clock.Elapsed - killedAt;
        await Poll.UntilAsync(() => load.StartedSince(killedAt + Grace) >= 100, "100 connections started more than a second after the kill",
            deadline.Token);

        foreach (var stream in streams)
        {
            stream.Stop();
        }

        var streamResults = await Task.WhenAll(streams.Select(s => s.Completion)).WaitAsync(deadline.Token);
        var attempts = await load.StopAsync();
        var goneAfter = await gone;
        Assert.Equal(128 + 9, victimServer.Process.ExitCode); // killed by SIGKILL

        // Which node carried each connection, from tunnel-client's log (it names the server certificate's CN).
        Dictionary<LoadAttempt, string> nodes = [];
        await Poll.UntilAsync(() =>
        {
            nodes = Fleet.NodesOf(client, attempts);
            return attempts.Where(a => a.Succeeded).All(nodes.ContainsKey);
        }, "tunnel-client's open line for every answered connection", deadline.Token);
        string NodeOf(LoadAttempt a) => nodes.GetValueOrDefault(a, "(none: no tunnel opened)");
        var failures = attempts.Where(a => !a.Succeeded).ToList();
        var before = attempts.Where(a => a.Started < killedAt).ToList();
        var after = attempts.Where(a => a.Started >= killedAt).ToList();
        var window = after.Where(a => a.Started < killedAt + Grace).ToList();

        output.WriteLine("==== figures ====");
        output.WriteLine($"killed {victim} (pid {victimServer.Process.Pid}) at {LoadAttempt.Ms(killedAt)} on the test clock, carrying " +
            $"{streams.Count(s => s.Node.Result == victim)} of {Streams} streams");
        output.WriteLine($"the process was gone (reaped; its sockets closed by the kernel) {LoadAttempt.Ms(goneAfter)} after SIGKILL");
        output.WriteLine($"HAProxy marked {victim} DOWN {LoadAttempt.Ms(downAfter)} after the kill: {downLine.Trim()}");
        output.WriteLine($"new connections every {Interval.TotalMilliseconds} ms: {attempts.Count} in all, {before.Count} before the kill " +
            $"({PerNode(before)}), {after.Count} after ({PerNode(after)})");
        output.WriteLine($"connect-to-answer before the kill: {SteadyLoad.Summary([.. before.Where(a => a.Succeeded).Select(a => a.Elapsed)])}");
        output.WriteLine($"started in the first {Grace.TotalSeconds:0} s after the kill: {SteadyLoad.Summary([.. window.Where(a => a.Succeeded).Select(a => a.Elapsed)])}");
        output.WriteLine($"later: {SteadyLoad.Summary([.. after.Except(window).Where(a => a.Succeeded).Select(a => a.Elapsed)])}");
        output.WriteLine($"failed connections: {failures.Count}");
        foreach (var failure in failures)
        {
            output.WriteLine($"  started {Relative(failure.Started - killedAt)} the kill, failed after {LoadAttempt.Ms(failure.Elapsed)}, " +
                $"on {NodeOf(failure)}: {failure.Failure}");
        }

        foreach (var result in streamResults)
        {
            output.WriteLine($"stream {result.Id} on {result.Node}: {result.Echoed / 1024} KiB echoed, " +
                (result.Failure is null ? "intact" : $"failed {Relative(result.FailedAt!.Value - killedAt)} the kill: {result.Failure}"));
        }

        // Every answer came from the node the log names: the attribution of failures below is sound.
        Assert.All(attempts.Where(a => a.Succeeded), a => Assert.Equal(a.Node, NodeOf(a)));
        Assert.All(failures, f => Assert.True(NodeOf(f) == victim, $"failed on {NodeOf(f)}, not the killed {victim}: {f}"));
        Assert.All(after.Except(window), a => Assert.True(a.Succeeded, $"started {Relative(a.Started - killedAt)} the kill and failed: {a}"));
        Assert.DoesNotContain(after, a => a.Succeeded && a.Node == victim && a.Started > killedAt + downAfter);
        Assert.True(downAfter <= MaxTimeToDown, $"HAProxy took {downAfter} to mark {victim} down");
        Assert.All(streamResults.Where(r => r.Node != victim), r => Assert.True(r.Failure is null && r.Echoed > 0, $"{r}"));
        Assert.All(streamResults.Where(r => r.Node == victim), r => Assert.NotNull(r.Failure));
        if (multiplex)
        {
            // Two multiplexed connections carried everything: the one on the victim failed and was replaced.
            var tlsConnections = servers.SelectMany(s => s.Events).Count(e => e.EventName == "ConnectionOpened" && e["Upstream"] == "(multiplexed)");
            output.WriteLine($"multiplexed TLS connections opened: {tlsConnections} for {attempts.Count + Streams} tunneled connections");
            Assert.InRange(tlsConnections, 3, 8);
            Assert.All(after.Except(window), a => Assert.NotEqual(victim, a.Node));
        }
        else
        {
            Assert.Equal(Nodes.Except([victim]).Order(), after.Except(window).Select(a => a.Node!).Distinct().Order());
        }
    }

    private static string PerNode(IEnumerable<LoadAttempt> attempts) =>
        string.Join(", ", attempts.Where(a => a.Succeeded).GroupBy(a => a.Node).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}"));

    private static string Relative(TimeSpan t) => t < TimeSpan.Zero ? $"{LoadAttempt.Ms(-t)} before" : $"{LoadAttempt.Ms(t)} after";
}
