using Tunnel.EndToEnd.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Chain;

/// <summary>Plain HTTP through the whole chain: the inner Squid sends the absolute-URI request to tunnel-client as its
/// parent, the outer Squid fetches it from nginx. Squid keeps these parent connections open and reuses them.</summary>
[Trait("Category", "EndToEnd")]
public sealed class PlainHttpArrivesIntact(ITestOutputHelper output)
{
    private const long FileSize = 5 * 1024 * 1024;

    [Fact(Timeout = 120_000)]
    public async Task A_download_and_an_upload_over_plain_http_arrive_byte_for_byte_through_the_parent()
    {
        // Guards against corruption or truncation of plain-HTTP bodies in either direction (a request body is
        // the client-to-server half of a persistent connection), and against the inner Squid silently going
        // DIRECT instead of through its parent (then the outer Squid would never see the request).
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        await using var chain = await ProxyChain.StartAsync("http", output, deadline.Token);
        var expected = await chain.Target.PublishFileAsync("download.bin", FileSize, seed: 21, deadline.Token);

        var download = await chain.CurlAsync(deadline.Token, chain.Target.HttpUrl("download.bin"));

        Assert.True(download.ExitCode == 0, download.ToString());
        Assert.Equal(200, download.HttpCode);
        Assert.Equal(0, download.HttpConnect);
        Assert.Equal(expected, await NginxTarget.Sha256OfFileAsync(download.BodyPath, deadline.Token));

        var upload = await chain.CurlAsync(deadline.Token, "-T", download.BodyPath, chain.Target.HttpUrl("upload/over-http.bin"));

        Assert.True(upload.ExitCode == 0, upload.ToString());
        Assert.Equal(201, upload.HttpCode);
        Assert.Equal(expected, await NginxTarget.Sha256OfFileAsync(chain.Target.UploadedFile("over-http.bin"), deadline.Token));

        var url = chain.Target.HttpUrl("download.bin");
        await chain.Inner.WaitForAccessLogAsync(l => l.Contains($"GET {url}", StringComparison.Ordinal) && l.Contains("FIRSTUP_PARENT/127.0.0.1", StringComparison.Ordinal),
            "the GET sent to the tunnel-client parent", deadline.Token);
        await chain.Outer.WaitForAccessLogAsync(l => l.Contains($"TCP_MISS/200 ", StringComparison.Ordinal) && l.Contains($"GET {url}", StringComparison.Ordinal),
            "the GET fetched by the upstream proxy", deadline.Token);
        await chain.Outer.WaitForAccessLogAsync(l => l.Contains("TCP_MISS/201 ", StringComparison.Ordinal) && l.Contains("PUT ", StringComparison.Ordinal),
            "the PUT forwarded by the upstream proxy", deadline.Token);
    }
}
