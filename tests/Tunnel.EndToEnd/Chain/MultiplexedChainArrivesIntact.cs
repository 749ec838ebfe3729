using Tunnel.EndToEnd.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Chain;

/// <summary>The whole chain with multiplexing on (tunnel-client --multiplex on): Squid's connections become streams
/// over tunnel-client's two multiplexed TLS connections, and arrive as intact as plain ones.</summary>
[Trait("Category", "EndToEnd")]
public sealed class MultiplexedChainArrivesIntact(ITestOutputHelper output)
{
    private const long FileSize = 4 * 1024 * 1024;
    private const int Parallel = 8;

    [Fact(Timeout = 150_000)]
    public async Task Parallel_https_downloads_and_uploads_through_squid_ride_two_TLS_connections()
    {
        // Guards the multiplexed relay against corrupting, truncating or mixing up streams that run at the same time
        // through real Squids (CONNECT, then the inner TLS to nginx), and against it quietly falling back to one TLS
        // connection per request.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(130));
        await using var chain = await ProxyChain.StartAsync("mux", output, deadline.Token,
            options: new ChainOptions { ClientArguments = ["--multiplex", "on"] });
        var expected = await chain.Target.PublishFileAsync("download.bin", FileSize, seed: 41, deadline.Token);

        var downloads = await Task.WhenAll(Enumerable.Range(0, Parallel).Select(_ => chain.CurlAsync(deadline.Token, chain.Target.HttpsUrl("download.bin"))));
        foreach (var download in downloads)
        {
            Assert.True(download.ExitCode == 0 && download.HttpCode == 200, download.ToString());
            Assert.Equal(expected, await NginxTarget.Sha256OfFileAsync(download.BodyPath, deadline.Token));
        }

        var uploads = await Task.WhenAll(Enumerable.Range(0, Parallel).Select(i =>
            chain.CurlAsync(deadline.Token, "-T", downloads[i].BodyPath, chain.Target.HttpsUrl($"upload/mux-{i}.bin"))));
        for (var i = 0; i < Parallel; i++)
        {
            Assert.True(uploads[i].ExitCode == 0 && uploads[i].HttpCode == 201, uploads[i].ToString());
            Assert.Equal(expected, await NginxTarget.Sha256OfFileAsync(chain.Target.UploadedFile($"mux-{i}.bin"), deadline.Token));
        }

        // Every request was a stream with its own close line, through at most two TLS connections.
        await Poll.UntilAsync(() => chain.Server.Events.Count(e => e.EventName == "ConnectionClosed" && e["Reason"] == "done"
            && e["Upstream"] == chain.Outer.Address) >= 2 * Parallel, "a close line per stream", deadline.Token);
        var tlsConnections = chain.Server.Events.Count(e => e.EventName == "ConnectionOpened" && e["Upstream"] == "(multiplexed)");
        Assert.InRange(tlsConnections, 1, 2);
        Assert.DoesNotContain(chain.Client.Events, e => e.EventName == "MuxUnsupported");
    }
}
