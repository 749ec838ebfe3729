using System.Diagnostics;
using System.Net;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Faults;

/// <summary>A tunnel-client with two servers (failover: A first, then B) under a steady rate of new connections, with
/// full-duplex transfers in flight through A: SIGTERM to A (a rolling restart, a scale-in) lets those transfers finish
/// intact, sends every new connection to B without a single failure, and A exits 0 once drained. The same with
/// multiplexing: A's GOAWAY moves new streams to a multiplexed connection to B while A's streams finish.</summary>
[Trait("Category", "EndToEnd")]
public sealed class SigtermedServerDrainsWhileNewConnectionsMoveOn(ITestOutputHelper output)
{
    private const int Transfers = 3;
    private const long Size = 8 * 1024 * 1024;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(25);

    [Theory(Timeout = 120_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task In_flight_transfers_complete_new_connections_go_to_the_other_server_and_none_fails(bool multiplex)
    {
        // Guards against a stop signal cutting what is in flight, against new connections failing while a server
        // drains (its listener must close at once, so tunnel-client fails over instead of waiting or being reset),
        // and against a connection that reached the server just before the signal being dropped rather than served.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Drain Fleet CA");
        await using var parts = new AsyncDisposables();
        var upstreamA = parts.Add(new MarkedUpstream("node-a") { HoldTransfers = true });
        var upstreamB = parts.Add(new MarkedUpstream("node-b"));
        string[] drain = ["--shutdown-timeout", "30s"];
        var servers = await parts.StartAllAsync(new[] { ("node-a", upstreamA), ("node-b", upstreamB) }.Select(n =>
            TunnelProcess.StartServerAsync(binaries, n.Item2.Address, Fleet.IssueNodeCertificate(pki, n.Item1), pki.CaPath, output, deadline.Token, drain)));
        var (serverA, serverB) = (servers[0], servers[1]);
        var client = parts.Add(await TunnelProcess.StartClientAsync(binaries, $"{serverA.Address},{serverB.Address}", ProxyChain.ServerName,
            pki.IssueClient(ProxyChain.ClientName), pki.CaPath, output, deadline.Token, "--pool-size", "0", "--strategy", "failover",
            "--multiplex", multiplex ? "on" : "off"));
        var entry = new IPEndPoint(IPAddress.Loopback, client.Port);

        var clock = Stopwatch.StartNew();
        var transfers = Enumerable.Range(0, Transfers)
            .Select(i => MarkedClient.TransferAsync(NetworkNamespace.Own, entry, $"xfer-{i}", Size, seed: 500 + (2 * i), deadline.Token))
            .ToList();
        await Poll.UntilAsync(() => upstreamA.Paused == Transfers, $"{Transfers} transfers paused in flight through node-a", deadline.Token);
        var load = SteadyLoad.Start("req", Interval, maxConnections: 2000, timeout: TimeSpan.FromSeconds(15), clock,
            (attempt, token) => MarkedClient.RequestAsync(NetworkNamespace.Own, entry, attempt, token));
        await Poll.UntilAsync(() => load.Succeeded >= 40, "40 short connections through node-a", deadline.Token);

        var termAt = clock.Elapsed;
        serverA.Process.Terminate();
        var draining = await serverA.WaitForEventAsync(e => e.EventName == "Draining", "node-a's 'draining N connections'", deadline.Token);
        await Poll.UntilAsync(() => load.StartedSince(termAt) >= 80, "80 new connections while node-a drains", deadline.Token);
        Assert.False(transfers.Any(t => t.IsCompleted), "a transfer ended before it was released");

        var releasedAt = clock.Elapsed;
        upstreamA.ReleaseTransfers();
        var results = await Task.WhenAll(transfers).WaitAsync(deadline.Token);
        var exitCode = await serverA.Process.WaitForExitAsync(deadline.Token);
        var exitedAt = clock.Elapsed;
        await Poll.UntilAsync(() => load.StartedSince(exitedAt) >= 40, "40 new connections once node-a is gone", deadline.Token);
        var attempts = await load.StopAsync();

        var before = attempts.Where(a => a.Started < termAt).ToList();
        var duringDrain = attempts.Where(a => a.Started >= termAt && a.Started < exitedAt).ToList();
        var afterExit = attempts.Where(a => a.Started >= exitedAt).ToList();
        var failures = attempts.Where(a => !a.Succeeded).ToList();
        output.WriteLine("==== figures ====");
        output.WriteLine($"SIGTERM to node-a at {LoadAttempt.Ms(termAt)}; it logged: {draining.Message}");
        output.WriteLine($"transfers released {LoadAttempt.Ms(releasedAt - termAt)} after SIGTERM; node-a exited with code {exitCode} " +
            $"{LoadAttempt.Ms(exitedAt - termAt)} after SIGTERM");
        output.WriteLine($"new connections every {Interval.TotalMilliseconds} ms: {attempts.Count} in all, {failures.Count} failed");
        output.WriteLine($"  before SIGTERM: {before.Count} ({PerNode(before)}), {SteadyLoad.Summary([.. before.Where(a => a.Succeeded).Select(a => a.Elapsed)])}");
        output.WriteLine($"  while node-a drained: {duringDrain.Count} ({PerNode(duringDrain)}), " +
            $"{SteadyLoad.Summary([.. duringDrain.Where(a => a.Succeeded).Select(a => a.Elapsed)])}");
        output.WriteLine($"  after node-a exited: {afterExit.Count} ({PerNode(afterExit)}), " +
            $"{SteadyLoad.Summary([.. afterExit.Where(a => a.Succeeded).Select(a => a.Elapsed)])}");
        foreach (var failure in failures)
        {
            output.WriteLine($"  FAILED, started {LoadAttempt.Ms(failure.Started - termAt)} after SIGTERM: {failure}");
        }

        for (var i = 0; i < Transfers; i++)
        {
            var up = await upstreamA.ReceivedAsync($"xfer-{i}").WaitAsync(deadline.Token);
            output.WriteLine($"transfer xfer-{i} via {results[i].Node}: {results[i].Length} bytes down, {up.Length} bytes up");
            Assert.Equal("node-a", results[i].Node);
            Assert.Equal((Payload.Expected(Size, 500 + (2 * i) + 1), Size), (results[i].Sha256, results[i].Length));
            Assert.Equal((Payload.Expected(Size, 500 + (2 * i)), Size), up);
        }

        Assert.Empty(failures);
        Assert.Equal(0, exitCode);
        Assert.Contains(serverA.Events, e => e.EventName == "Stopped");
        Assert.True(int.Parse(draining["Active"]!, System.Globalization.CultureInfo.InvariantCulture) >= Transfers, draining.Message);
        // Failover puts node-a first; a handshake slower than the hedge delay (1 s) on a loaded machine may race node-b.
        Assert.True(before.Count(a => a.Node == "node-a") > before.Count / 2, $"node-a did not carry the connections before SIGTERM: {PerNode(before)}");
        Assert.All(afterExit, a => Assert.Equal("node-b", a.Node));
        Assert.True(duringDrain.Count(a => a.Node == "node-b") >= 40, "the connections made while node-a drained did not go to node-b");
        Assert.DoesNotContain(serverB.Events, e => e.EventName is "HandshakeFailed" or "UpstreamFailed");
        if (multiplex)
        {
            // Every connection was a stream: a handful of TLS connections for hundreds of tunneled ones.
            var tlsConnections = serverA.Events.Concat(serverB.Events).Count(e => e.EventName == "ConnectionOpened" && e["Upstream"] == "(multiplexed)");
            output.WriteLine($"multiplexed TLS connections opened: {tlsConnections} for {attempts.Count + Transfers} tunneled connections");
            Assert.InRange(tlsConnections, 2, 8);
            Assert.Contains(serverA.Events, e => e.EventName == "ConnectionClosed" && e["Upstream"] == "(multiplexed)" && e["Reason"] == "drained");
        }
    }

    private static string PerNode(IEnumerable<LoadAttempt> attempts) =>
        string.Join(", ", attempts.Where(a => a.Succeeded).GroupBy(a => a.Node).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}"));
}
