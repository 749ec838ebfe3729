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
/// judged that way on both sides.</summary>
[Trait("Category", "EndToEnd")]
public sealed class PublishedFormResumesWithoutVerifyingAgain(ITestOutputHelper output)
{
    private const int Connections = 4;

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
}
