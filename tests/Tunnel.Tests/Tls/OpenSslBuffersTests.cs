using System.Net.Security;
using System.Security.Cryptography;
using Tunnel.Tests.Support;
using Tunnel.Tls;

namespace Tunnel.Tests.Tls;

/// <summary>TLS endpoints ask OpenSSL to free their record buffers while idle (SSL_MODE_RELEASE_BUFFERS), and data
/// still crosses intact, in bursts with idle gaps and through reads smaller than a record; multiplexed connections,
/// busy by nature, keep them.</summary>
public sealed class OpenSslBuffersTests : IDisposable
{
    private const long ReleaseBuffers = 0x10;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TestPki _pki = new();

    [Fact(Timeout = 30_000)]
    public async Task Both_sides_of_an_authenticated_endpoint_release_their_buffers_when_idle()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);

        Assert.Equal(ReleaseBuffers, OpenSslBuffers.Mode(pair.Client.Endpoint.Tls) & ReleaseBuffers);
        Assert.Equal(ReleaseBuffers, OpenSslBuffers.Mode(pair.Server.Endpoint.Tls) & ReleaseBuffers);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_multiplexed_connection_keeps_its_buffers()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);

        Assert.Equal(0, OpenSslBuffers.Mode(pair.Client.Endpoint.Tls) & ReleaseBuffers);
        Assert.Equal(0, OpenSslBuffers.Mode(pair.Server.Endpoint.Tls) & ReleaseBuffers);
    }

    [Fact(Timeout = 60_000)]
    public async Task Bursts_cross_intact_both_ways_through_small_reads()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        Assert.Equal(ReleaseBuffers, OpenSslBuffers.Mode(pair.Client.Endpoint.Tls) & ReleaseBuffers);
        Assert.Equal(ReleaseBuffers, OpenSslBuffers.Mode(pair.Server.Endpoint.Tls) & ReleaseBuffers);
        var (client, server) = (pair.Client.Endpoint.Stream, pair.Server.Endpoint.Stream);

        // Each burst leaves the buffers idle (released) before the next; reads of 1,000 bytes leave part of a
        // record in OpenSSL's buffer between reads, which must not be freed under it.
        foreach (var size in new[] { 1, 1_000, 16_384, 100_000, 1_000_000 })
        {
            var up = RandomNumberGenerator.GetBytes(size);
            var down = RandomNumberGenerator.GetBytes(size);
            var received = Task.WhenAll(ReadExactlyAsync(server, size), ReadExactlyAsync(client, size));
            await Task.WhenAll(client.WriteAsync(up).AsTask(), server.WriteAsync(down).AsTask()).WaitAsync(Wait);
            var (atServer, atClient) = ((await received.WaitAsync(Wait))[0], (await received)[1]);

            Assert.Equal(SHA256.HashData(up), SHA256.HashData(atServer));
            Assert.Equal(SHA256.HashData(down), SHA256.HashData(atClient));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_stream_without_a_connection_is_left_alone()
    {
        var notAuthenticated = new SslStream(new MemoryStream());
        Assert.Null(OpenSslBuffers.Mode(notAuthenticated));
        Assert.False(OpenSslBuffers.ReleaseWhenIdle(notAuthenticated));

        var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await pair.DisposeAsync();
        Assert.Null(OpenSslBuffers.Mode(pair.Client.Endpoint.Tls));
        Assert.False(OpenSslBuffers.ReleaseWhenIdle(pair.Server.Endpoint.Tls));
    }

    [Fact]
    public void It_is_used_only_where_OpenSSL_3_alone_is_loaded()
    {
        Assert.Null(OpenSslBuffers.Unavailable); // this process: .NET 10 on Linux with OpenSSL 3

        Assert.NotNull(OpenSslBuffers.Resolve(() => ["/usr/lib/x86_64-linux-gnu/libssl.so.3"]).Field);

        // Before OpenSSL is loaded there is no answer yet (the caller asks again later, rather than keeping this).
        var early = OpenSslBuffers.Resolve(() => []);
        Assert.Null(early.Field);
        Assert.Equal(OpenSslBuffers.NotLoadedYet, early.Unavailable);

        // An SSL* from another libssl must never reach OpenSSL 3's SSL_ctrl.
        var mixed = OpenSslBuffers.Resolve(() => ["/opt/old/libssl.so.1.1", "/usr/lib/x86_64-linux-gnu/libssl.so.3"]);
        Assert.Null(mixed.Field);
        Assert.Contains("libssl.so.1.1", mixed.Unavailable);
        Assert.Null(OpenSslBuffers.Resolve(() => ["/usr/lib/libssl.so.1.1"]).Field);

        var unreadable = OpenSslBuffers.Resolve(() => throw new IOException("permission denied"));
        Assert.Null(unreadable.Field);
        Assert.Contains("/proc/self/maps", unreadable.Unavailable);
    }

    public void Dispose() => _pki.Dispose();

    /// <summary>Reads <paramref name="count"/> bytes in reads of at most 1,000.</summary>
    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var result = new byte[count];
        for (var at = 0; at < count; at += 1_000)
        {
            await stream.ReadExactlyAsync(result.AsMemory(at, Math.Min(1_000, count - at)));
        }

        return result;
    }
}
