using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Lifecycle;

/// <summary>The binaries as published (TUNNEL_PUBLISHED_DIR: scripts/publish.sh's Native AOT build, or another form)
/// keep two start-up and memory measures that a trimmed or AOT build, or a new runtime, could silently lose. OpenSSL
/// frees each TLS connection's record buffers while idle: that release reaches into SslStream's private field by
/// reflection, so both daemons count the connections it was set on (<c>tunnel_tls_idle_buffer_release_total</c>), and
/// each must have counted the tunneled connection and logged no reason to keep the buffers. And a daemon whose every
/// tunnel has its own CA leaves the system certificate store unread (<c>SystemTrustStoreSkipped</c>), while a client
/// tunnel without one does not.</summary>
[Trait("Category", "EndToEnd")]
public sealed class PublishedFormReleasesIdleTlsBuffers(ITestOutputHelper output)
{
    [Fact(Timeout = 120_000)]
    public async Task Both_daemons_set_the_release_on_a_tunneled_connection()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Release Buffers CA");
        await using var parts = new AsyncDisposables();
        var upstream = parts.Add(new MarkedUpstream("release"));
        var server = parts.Add(await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token, "--admin-listen", "127.0.0.1:0"));
        var client = parts.Add(await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName,
            pki.IssueClient(ProxyChain.ClientName), pki.CaPath, output, deadline.Token, "--pool-size", "0", "--admin-listen", "127.0.0.1:0"));

        Assert.Equal("release", await MarkedClient.AskAsync(client.Port, "one", deadline.Token));

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var (name, daemon) in new[] { ("tunnel-server", server), ("tunnel-client", client) })
        {
            var port = await daemon.AdminPortAsync(deadline.Token);
            var metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), deadline.Token);
            var released = MetricsPage.Value(metrics, "tunnel_tls_idle_buffer_release_total");
            Assert.True(released is not null, $"{name}: no tunnel_tls_idle_buffer_release_total in /metrics");
            Assert.True(released >= 1, $"{name}: tunnel_tls_idle_buffer_release_total {released}");
            Assert.DoesNotContain(daemon.Events, e => e.EventName == "TlsBuffersKept");
            // Every tunnel has its own CA: the system certificate store, most of the start-up, was left unread.
            Assert.Contains(daemon.Events, e => e.EventName == "SystemTrustStoreSkipped");
        }
    }

    /// <summary>A tunnel-client tunnel without ca verifies its server against the system store, so the store is not
    /// skipped (the client still starts and listens; a server of a private CA would be refused).</summary>
    [Fact(Timeout = 120_000)]
    public async Task A_client_without_ca_does_not_skip_the_system_store()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E System Store CA");
        var identity = pki.IssueClient(ProxyChain.ClientName);
        await using var client = await TunnelProcess.StartAsync(binaries, "tunnel-client",
            ["--listen", "127.0.0.1:0", "--server", "127.0.0.1:9", "--server-name", ProxyChain.ServerName, "--cert", identity.Cert,
                "--key", identity.Key, "--pool-size", "0"],
            output, deadline.Token);
        // The store's status is logged before the TLS policy's, by the same thread: once that is out, it would be too.
        await client.WaitForEventAsync(e => e.EventName == "TlsPolicy", "the TLS policy line", deadline.Token);
        Assert.DoesNotContain(client.Events, e => e.EventName == "SystemTrustStoreSkipped");
    }
}
