using System.Diagnostics;
using System.Net;
using Tunnel.EndToEnd.Support;
using Tunnel.EndToEnd.Support.Wire;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Faults;

/// <summary>A tunnel-client with three servers (failover, so the first takes every new connection) and a steady
/// rate of new connections; then the first server's address goes silent (nftables in the cloud namespace drops its
/// packets: no RST, no ICMP). No connection fails: each one pays the hedge delay (the second server is raced after
/// it) until two failed health checks mark the first server down, and from then on none does.</summary>
[Trait("Category", "EndToEnd")]
public sealed class BlackholedServerCostsLatencyNotConnections(ITestOutputHelper output)
{
    private static readonly string[] Nodes = ["node-1", "node-2", "node-3"];
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(30);

    /// <summary>The default hedge delay: a silent server costs this instead of the connect timeout.</summary>
    private static readonly TimeSpan Hedge = TimeSpan.FromSeconds(1);

    /// <summary>Shorter than the default 10 s, so that two failed health checks (each lasting the connect timeout
    /// against a silent address) fit in the test's time budget.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan HealthCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>The client's handshake timeout, short too: a probe of the server already connected when the rule goes in
    /// loses its close exchange to the black hole and lasts the probe's whole timeout (connect + handshake; 13 s with the
    /// default, which once made convergence take 16 s).</summary>
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(3);

    /// <summary>A probe round caught in flight (up to connect + handshake timeout), a probe interval, a second failing
    /// round (the connect timeout), and slack for a loaded machine.</summary>
    private static readonly TimeSpan MaxConvergence = TimeSpan.FromSeconds(15);

    [Fact(Timeout = 120_000)]
    public async Task No_new_connection_fails_and_the_added_latency_ends_once_health_checks_skip_the_server()
    {
        // Guards against a silent server failing connections (a connect timeout reaching the user), costing each
        // connection the full connect timeout instead of the hedge delay, or staying first in line forever.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Blackhole CA");
        await using var network = await SiteAndCloudNetwork.CreateAsync(Nodes.Length, output, deadline.Token);
        await using var parts = new AsyncDisposables();
        var upstreams = Nodes.Select(n => parts.Add(new MarkedUpstream(n, network.Cloud))).ToArray();
        var addresses = network.CloudAddresses.Select(a => $"{a}:443").ToArray();
        await parts.StartAllAsync(Nodes.Select((node, i) =>
        {
            var (cert, key) = Fleet.IssueNodeCertificate(pki, node);
            return TunnelProcess.StartAsync(binaries, "tunnel-server",
                ["--listen", addresses[i], "--upstream", upstreams[i].Address, "--cert", cert, "--key", key, "--ca", pki.CaPath],
                output, deadline.Token, network.Cloud);
        }));
        var (clientCert, clientKey) = pki.IssueClient(ProxyChain.ClientName);
        var client = parts.Add(await TunnelProcess.StartAsync(binaries, "tunnel-client",
        [
            "--listen", "127.0.0.1:0", "--server", string.Join(',', addresses), "--server-name", ProxyChain.ServerName,
            "--cert", clientCert, "--key", clientKey, "--ca", pki.CaPath, "--pool-size", "0", "--strategy", "failover",
            "--hedge-delay", $"{Hedge.TotalMilliseconds}ms", "--connect-timeout", $"{ConnectTimeout.TotalSeconds}s",
            "--health-check-interval", $"{HealthCheckInterval.TotalSeconds}s", "--handshake-timeout", $"{HandshakeTimeout.TotalSeconds}s",
        ], output, deadline.Token, network.Site));
        var entry = new IPEndPoint(IPAddress.Loopback, client.Port);

        var clock = Stopwatch.StartNew();
        var load = SteadyLoad.Start("req", Interval, maxConnections: 3000, timeout: TimeSpan.FromSeconds(10), clock,
            (attempt, token) => MarkedClient.RequestAsync(network.Site, entry, attempt, token));
        await Poll.UntilAsync(() => load.Succeeded >= 60, "60 connections through the first server", deadline.Token);

        var silent = network.CloudAddresses[0];
        var ruleAt = clock.Elapsed;
        await network.BlackholeAsync(silent, deadline.Token);
        var blackholedAt = clock.Elapsed;
        var probeDown = await client.WaitForEventAsync(e => e.EventName == "BackendProbeDown" && e["Backend"] == addresses[0],
            $"tunnel-client's health check to mark {addresses[0]} down", deadline.Token);
        var convergedAt = clock.Elapsed;
        await Poll.UntilAsync(() => load.StartedSince(convergedAt) >= 60, "60 connections once the silent server is skipped", deadline.Token);
        var attempts = await load.StopAsync();
        var dropped = await network.DroppedPacketsAsync(deadline.Token);

        // Connections still running when the rule went in had their packets swallowed mid-flight: once a byte was
        // forwarded nothing is retried, so they are lost like those on a server that dies (reported, not asserted).
        var caught = attempts.Where(a => a.Started < blackholedAt && a.Started + a.Elapsed >= ruleAt).ToList();
        var before = attempts.Where(a => a.Started + a.Elapsed < ruleAt).ToList();
        var converging = attempts.Where(a => a.Started >= blackholedAt && a.Started < convergedAt).ToList();
        var after = attempts.Where(a => a.Started >= convergedAt).ToList();
        var failures = attempts.Except(caught).Where(a => !a.Succeeded).ToList();
        output.WriteLine("==== figures ====");
        output.WriteLine($"tunnel-client: failover over {string.Join(", ", addresses)}; hedge delay {Hedge.TotalMilliseconds} ms, connect timeout " +
            $"{ConnectTimeout.TotalSeconds} s, health checks every {HealthCheckInterval.TotalSeconds} s; a new connection every {Interval.TotalMilliseconds} ms");
        output.WriteLine($"{silent} black-holed at {LoadAttempt.Ms(blackholedAt)} (the nft command took {LoadAttempt.Ms(blackholedAt - ruleAt)}); " +
            $"health checks marked it down {LoadAttempt.Ms(convergedAt - blackholedAt)} later " +
            $"({probeDown.Message}); {dropped} packets dropped");
        output.WriteLine($"connect-to-answer before: {Phase(before)}");
        output.WriteLine($"connect-to-answer while health state converged: {Phase(converging)}");
        output.WriteLine($"connect-to-answer after convergence: {Phase(after)}");
        output.WriteLine($"added latency while converging: p50 +{LoadAttempt.Ms(Median(converging) - Median(before))}, after convergence: " +
            $"p50 {(Median(after) >= Median(before) ? "+" : "-")}{LoadAttempt.Ms((Median(after) - Median(before)).Duration())}");
        output.WriteLine($"in flight as the rule went in: {caught.Count}");
        foreach (var attempt in caught)
        {
            output.WriteLine($"  {attempt}");
        }

        output.WriteLine($"failures among the others: {failures.Count}");
        foreach (var failure in failures)
        {
            output.WriteLine($"  FAILED, started {LoadAttempt.Ms(failure.Started - blackholedAt)} after the black hole: {failure}");
        }

        Assert.Empty(failures);
        // Failover puts node-1 first; a handshake slower than the hedge delay on a loaded machine may race node-2.
        Assert.True(before.Count(a => a.Node == "node-1") > before.Count / 2, $"node-1 did not carry the connections before: {Phase(before)}");
        Assert.True(convergedAt - blackholedAt <= MaxConvergence, $"the health checks took {convergedAt - blackholedAt} to skip the silent server");
        Assert.True(converging.Count >= 10, $"only {converging.Count} connections while converging");
        // Every connection while converging tried the silent server first and was rescued by the hedge, not by the
        // connect timeout.
        Assert.All(converging.Where(a => a.Started + a.Elapsed < convergedAt), a => Assert.True(a.Elapsed < ConnectTimeout, $"{a}"));
        Assert.True(Median(converging) >= Hedge * 0.9, $"the median connection while converging took {Median(converging)}, less than the hedge delay");
        Assert.DoesNotContain(after, a => a.Node == "node-1");
        Assert.True(Median(after) < Hedge / 2, $"the median connection after convergence took {Median(after)}");
        Assert.True(dropped > 0, "the black hole dropped nothing");
    }

    private static TimeSpan Median(IEnumerable<LoadAttempt> attempts) => SteadyLoad.Percentile(attempts.Select(a => a.Elapsed), 0.5);

    private static string Phase(List<LoadAttempt> attempts) =>
        $"{SteadyLoad.Summary([.. attempts.Select(a => a.Elapsed)])} (" +
        string.Join(", ", attempts.Where(a => a.Succeeded).GroupBy(a => a.Node).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}")) + ")";
}
