using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Faults;

/// <summary>The outer Squid (tunnel-server's upstream) stopped and started again on the same port while plain-HTTP
/// requests keep arriving through tunnel-client, as the inner Squid sends them: while it is down every request gets a
/// complete 503 from tunnel-server with the reason (never a hang or a reset; one Squid accepted as it began to shut
/// down and closed unanswered gets a 502 saying so), and once it is back requests succeed again without anyone
/// touching the tunnel, within the upstream circuit breaker's break.</summary>
[Trait("Category", "EndToEnd")]
public sealed class StoppedUpstreamSquidIsExplainedThenRecoveredByItself(ITestOutputHelper output)
{
    private const int FileSize = 16 * 1024;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>tunnel-server skips an upstream whose connects keep failing for upstreamBreakDuration (5 s by default)
    /// before a trial request, and its health check (every 10 s) needs two failures in a row to isolate it, which a
    /// few seconds' outage cannot produce. So a request succeeds at most one break after Squid is back; the rest is
    /// slack for a loaded machine.</summary>
    private static readonly TimeSpan MaxRecovery = TimeSpan.FromSeconds(10);

    [Fact(Timeout = 120_000)]
    public async Task Requests_get_a_503_with_the_reason_while_it_is_down_and_succeed_again_once_it_is_back()
    {
        // Guards against an upstream outage reaching users as resets or hangs (which Squid turns into its own
        // opaque errors), and against tunnel-server staying stuck on an upstream that came back (a breaker that never
        // half-opens, a health state that needs a restart).
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        RequiredTool.CheckChainTools();
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("upstream-restart");
        using var pki = new TestPki("E2E Upstream Restart CA");
        await using var parts = new AsyncDisposables();
        var target = parts.Add(await NginxTarget.StartAsync(sandbox, output, deadline.Token));
        var expected = await target.PublishFileAsync("index.html", FileSize, seed: 33, deadline.Token);
        var hosts = sandbox.WriteText("outer-hosts", $"127.0.0.1 {target.Host}\n");
        var outer = parts.Add(await SquidProcess.StartAsync(sandbox, "outer", SquidConfig.Outer(hosts), output, deadline.Token));
        var server = parts.Add(await TunnelProcess.StartServerAsync(binaries, outer.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token));
        var client = parts.Add(await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName, pki.IssueClient(ProxyChain.ClientName),
            pki.CaPath, output, deadline.Token));
        var entry = new IPEndPoint(IPAddress.Loopback, client.Port);
        var url = target.HttpUrl("index.html");

        var clock = Stopwatch.StartNew();
        var load = SteadyLoad.Start("get", Interval, maxConnections: 2000, timeout: TimeSpan.FromSeconds(15), clock, async (attempt, token) =>
        {
            var response = await RawProxyGet.SendAsync(entry, url, attempt, token);
            attempt.Answer = response.Status switch
            {
                200 when Convert.ToHexString(SHA256.HashData(response.Body)) == expected => "200",
                503 or 502 when response.Headers.TryGetValue("X-Tunnel-Error", out var reason) && Encoding.UTF8.GetString(response.Body) == reason + "\n" =>
                    $"{response.Status} {reason}",
                _ => throw new InvalidDataException($"unexpected answer: {response.StatusLine} ({response.Body.Length} bytes)"),
            };
        });
        await Poll.UntilAsync(() => load.Succeeded >= 20, "20 requests answered through the chain", deadline.Token);

        var stopAt = clock.Elapsed;
        var squidExit = await outer.StopAsync(deadline.Token);
        var downAt = clock.Elapsed;
        await Poll.UntilAsync(() => load.StartedSince(downAt) >= 40, "40 requests while the outer Squid is down", deadline.Token);
        var restartAt = clock.Elapsed;
        outer = parts.Add(await outer.RestartAsync(deadline.Token));
        var backAt = clock.Elapsed;
        List<LoadAttempt> afterBack = [];
        await Poll.UntilAsync(() =>
        {
            afterBack = load.Snapshot().Where(a => a.Started >= backAt && a.Finished).ToList();
            return afterBack.SkipWhile(a => a.Answer != "200").Take(40).Count(a => a.Answer == "200") == 40;
        }, "40 requests in a row answered 200 once the outer Squid is back", deadline.Token);
        var attempts = await load.StopAsync();

        // Phases by when a request ran: one in flight across a change of state may get either answer (both complete).
        var up = attempts.Where(a => a.Started + a.Elapsed < stopAt).ToList();
        var stopping = attempts.Where(a => a.Started + a.Elapsed >= stopAt && a.Started < downAt).ToList();
        var down = attempts.Where(a => a.Started >= downAt && a.Started + a.Elapsed < restartAt).ToList();
        var starting = attempts.Where(a => a.Started >= downAt && a.Started + a.Elapsed >= restartAt && a.Started < backAt).ToList();
        var back = attempts.Where(a => a.Started >= backAt).ToList();
        var firstOk = back.First(a => a.Answer == "200");
        var lastError = back.LastOrDefault(a => a.Answer != "200");
        var recovery = firstOk.Started + firstOk.Elapsed - backAt;

        output.WriteLine("==== figures ====");
        output.WriteLine($"requests every {Interval.TotalMilliseconds} ms (plain HTTP GET of {FileSize / 1024} KiB, a new connection each): {attempts.Count}");
        output.WriteLine($"outer Squid: SIGTERM at {LoadAttempt.Ms(stopAt)}, exited with {squidExit} after {LoadAttempt.Ms(downAt - stopAt)}; " +
            $"down for {LoadAttempt.Ms(restartAt - downAt)}; restarted on the same port, answering after {LoadAttempt.Ms(backAt - restartAt)}");
        output.WriteLine($"  before the stop: {Tally(up)}");
        output.WriteLine($"  running as Squid got SIGTERM, or while it shut down: {Tally(stopping)}");
        output.WriteLine($"  while Squid was gone: {Tally(down)}");
        output.WriteLine($"  running as Squid started: {Tally(starting)}");
        output.WriteLine($"  once Squid answered again: {Tally(back)}");
        output.WriteLine($"recovery: first 200 {LoadAttempt.Ms(recovery)} after Squid answered again; last error on a request started " +
            $"{(lastError is null ? "(none)" : LoadAttempt.Ms(lastError.Started - backAt))} after it");
        output.WriteLine($"503 answer time: {SteadyLoad.Summary([.. attempts.Where(a => a.Answer?.StartsWith("503", StringComparison.Ordinal) == true).Select(a => a.Elapsed)])}");
        output.WriteLine($"200 answer time: {SteadyLoad.Summary([.. attempts.Where(a => a.Answer == "200").Select(a => a.Elapsed)])}");
        foreach (var reason in attempts.Where(a => a.Answer?.StartsWith('5') == true)
            .GroupBy(a => Shorten(a.Answer!)).OrderByDescending(g => g.Count()))
        {
            output.WriteLine($"  {reason.Count(),4} x {reason.Key}");
        }

        foreach (var failure in attempts.Where(a => !a.Succeeded))
        {
            output.WriteLine($"  FAILED: {failure}");
        }

        Assert.All(attempts, a => Assert.True(a.Succeeded, $"not a complete 200, 502 or 503 with a reason: {a}"));
        Assert.All(up, a => Assert.Equal("200", a.Answer));
        // Only a request Squid accepted as it began to shut down may have been closed unanswered: a 502 that says so.
        Assert.All(attempts.Where(a => a.Answer!.StartsWith("502", StringComparison.Ordinal)), a =>
        {
            Assert.Contains(a, stopping);
            Assert.Contains($"tunnel-server's upstream proxy {outer.Address} closed the connection without answering", a.Answer, StringComparison.Ordinal);
        });
        Assert.All(down, a => Assert.StartsWith($"503 tunnel-server cannot reach its upstream proxy: ", a.Answer));
        Assert.Contains(down, a => a.Answer!.Contains(outer.Address, StringComparison.Ordinal));
        Assert.True(recovery <= MaxRecovery, $"the first request to succeed after Squid was back ended {recovery} after it");
        Assert.All(back.SkipWhile(a => a.Answer != "200"), a => Assert.Equal("200", a.Answer));
        Assert.Equal(0, squidExit);
    }

    private static string Tally(List<LoadAttempt> attempts) =>
        $"{attempts.Count} requests: {attempts.Count(a => a.Answer == "200")} x 200, " +
        $"{attempts.Count(a => a.Answer?.StartsWith("503", StringComparison.Ordinal) == true)} x 503, " +
        $"{attempts.Count(a => a.Answer?.StartsWith("502", StringComparison.Ordinal) == true)} x 502, {attempts.Count(a => !a.Succeeded)} failed";

    /// <summary>The reason without the parts that change with each request (how long ago the last failure was).</summary>
    private static string Shorten(string answer) =>
        System.Text.RegularExpressions.Regex.Replace(answer, @"\d+(\.\d+)?s ago", "Ns ago");
}
