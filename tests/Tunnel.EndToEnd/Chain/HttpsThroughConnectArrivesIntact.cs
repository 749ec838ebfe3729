using Tunnel.EndToEnd.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Chain;

/// <summary>HTTPS through the whole chain: curl's CONNECT goes to the inner Squid, which hands it to tunnel-client as
/// its parent; the TLS session to nginx then rides inside the tunnel's own TLS.</summary>
[Trait("Category", "EndToEnd")]
public sealed class HttpsThroughConnectArrivesIntact(ITestOutputHelper output)
{
    private const long FileSize = 6 * 1024 * 1024;

    [Fact(Timeout = 120_000)]
    public async Task A_download_and_an_upload_over_https_arrive_byte_for_byte()
    {
        // Guards against the relay corrupting, truncating or reordering a multi-megabyte stream carried through
        // CONNECT in either direction, and against the CONNECT handshake itself breaking (Squid's "200 Connection
        // established" must come from the upstream proxy through the tunnel, and the inner TLS must verify).
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        await using var chain = await ProxyChain.StartAsync("https", output, deadline.Token);
        var expected = await chain.Target.PublishFileAsync("download.bin", FileSize, seed: 11, deadline.Token);

        var download = await chain.CurlAsync(deadline.Token, chain.Target.HttpsUrl("download.bin"));

        Assert.True(download.ExitCode == 0, download.ToString());
        Assert.Equal(200, download.HttpConnect);
        Assert.Equal(200, download.HttpCode);
        Assert.Equal(FileSize, new FileInfo(download.BodyPath).Length);
        Assert.Equal(expected, await NginxTarget.Sha256OfFileAsync(download.BodyPath, deadline.Token));

        var upload = await chain.CurlAsync(deadline.Token, "-T", download.BodyPath, chain.Target.HttpsUrl("upload/over-https.bin"));

        Assert.True(upload.ExitCode == 0, upload.ToString());
        Assert.Equal(200, upload.HttpConnect);
        Assert.Equal(201, upload.HttpCode);
        Assert.Equal(expected, await NginxTarget.Sha256OfFileAsync(chain.Target.UploadedFile("over-https.bin"), deadline.Token));
    }
}
