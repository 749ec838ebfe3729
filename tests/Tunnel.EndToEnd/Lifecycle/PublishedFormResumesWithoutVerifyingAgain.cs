using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Lifecycle;

/// <summary>The binaries as published keep the skip of a resumed handshake's chain build on both daemons: tunnel-server's
/// session cache (VerifiedSessions) and tunnel-client's hold on SslStream's client cache (VerifiedServerSessions) both
/// reach OpenSSL through SslStream's private field and OpenSSL callbacks, which a trimmed or AOT build, or a new
/// runtime, could silently lose (every resumption would then be verified in full again, costing CPU, not safety). Each
/// daemon counts the resumed handshakes it judged on the stored chain (<c>tunnel_tls_resumed_stored_chain_total</c>):
/// with the warm pool off, every connection after the first makes a resumed handshake, and each of them must have been
/// judged that way on both sides. And with the warm pool on and connections made four at a time (several refills under
/// way at once, the case OpenSSL's retiring of a resumed ticket broke, see TicketStock), every handshake after a warm-up
/// resumes.</summary>
[Trait("Category", "EndToEnd")]
public sealed class PublishedFormResumesWithoutVerifyingAgain(ITestOutputHelper output)
{
    private const int Connections = 4;
    private const int WarmUp = 20;
    private const int Concurrent = 4;
    private const int EachConcurrently = 60;

    [Fact(Timeout = 120_000)]
    public async Task Both_daemons_judge_resumed_sessions_on_the_chain_their_full_handshake_verified()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Stored Chain CA");
        await using var parts = new AsyncDisposables();
        var upstream = parts.Add(new MarkedUpstream("resumed"));
        var server = parts.Add(await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token, "--admin-listen", "127.0.0.1:0"));
        var client = parts.Add(await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName,
            pki.IssueClient(ProxyChain.ClientName), pki.CaPath, output, deadline.Token, "--pool-size", "0", "--admin-listen", "127.0.0.1:0"));

        for (var i = 0; i < Connections; i++)
        {
            Assert.Equal("resumed", await MarkedClient.AskAsync(client.Port, $"c{i}", deadline.Token));
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var (name, daemon) in new[] { ("tunnel-server", server), ("tunnel-client", client) })
        {
            var port = await daemon.AdminPortAsync(deadline.Token);
            var metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), deadline.Token);
            var resumed = MetricsPage.Required(metrics, "tunnel_tls_resumed_total{tunnel=\"default\"}");
            var judged = MetricsPage.Required(metrics, "tunnel_tls_resumed_stored_chain_total");
            output.WriteLine($"{name}: {resumed} resumed handshakes, {judged} judged on the stored chain");
            Assert.True(resumed >= Connections - 1, $"{name}: only {resumed} of {Connections} handshakes resumed");
            Assert.Equal(resumed, judged);
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task Every_warm_pool_refill_resumes_when_several_are_under_way_at_once()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Ticket Stock CA");
        await using var parts = new AsyncDisposables();
        var upstream = parts.Add(new MarkedUpstream("pooled"));
        var server = parts.Add(await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token));
        var client = parts.Add(await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName,
            pki.IssueClient(ProxyChain.ClientName), pki.CaPath, output, deadline.Token, "--admin-listen", "127.0.0.1:0"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var port = await client.AdminPortAsync(deadline.Token);

        for (var i = 0; i < WarmUp; i++)
        {
            Assert.Equal("pooled", await MarkedClient.AskAsync(client.Port, $"w{i}", deadline.Token));
        }

        var before = await HandshakesAsync(http, port, deadline.Token);
        await Task.WhenAll(Enumerable.Range(0, Concurrent).Select(async lane =>
        {
            for (var i = 0; i < EachConcurrently; i++)
            {
                Assert.Equal("pooled", await MarkedClient.AskAsync(client.Port, $"l{lane}-{i}", deadline.Token));
            }
        }));
        var after = await HandshakesAsync(http, port, deadline.Token);

        var made = after.Made - before.Made;
        var resumed = after.Resumed - before.Resumed;
        output.WriteLine($"tunnel-client: {made} handshakes during {Concurrent * EachConcurrently} connections, {resumed} resumed");
        Assert.True(made >= Concurrent * EachConcurrently / 2, $"only {made} handshakes for {Concurrent * EachConcurrently} connections");
        Assert.Equal(made, resumed);
    }

    private static async Task<(double Made, double Resumed)> HandshakesAsync(HttpClient http, int port, CancellationToken cancellationToken)
    {
        var metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), cancellationToken);
        return (MetricsPage.Required(metrics, "tunnel_handshake_duration_seconds_count{tunnel=\"default\"}"),
            MetricsPage.Required(metrics, "tunnel_tls_resumed_total{tunnel=\"default\"}"));
    }
}
