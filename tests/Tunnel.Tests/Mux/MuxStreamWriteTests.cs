using System.Security.Cryptography;
using Tunnel.Relay;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Mux;

/// <summary>A multiplexed stream's writes: the relay's largest write leaves as one batch of DATA frames, in one socket
/// write, as a plain TLS connection's write of that size does.</summary>
public sealed class MuxStreamWriteTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TestPki _pki = new();

    [Fact(Timeout = 30_000)]
    public async Task The_relays_largest_write_leaves_in_one_socket_write()
    {
        await using var pair = await TlsEndpointPair.ConnectAsync(_pki, Wait);
        await using var sessions = await MuxSessionPair.ConnectAsync(pair, Wait);
        await using var streams = await sessions.OpenStreamAsync(Wait);
        var data = RandomNumberGenerator.GetBytes(StreamPump.MaxBufferSize); // 16 full DATA frames

        var before = pair.Client.Transport.Writes;
        await streams.Client.WriteAsync(data).AsTask().WaitAsync(Wait);
        await streams.Client.CompleteWritesAsync(CancellationToken.None);

        using var received = new MemoryStream();
        await streams.Server.CopyToAsync(received).WaitAsync(Wait);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(received.ToArray()));
        Assert.Equal(2, pair.Client.Transport.Writes - before); // the 16 frames, then the FIN
    }

    public void Dispose() => _pki.Dispose();
}
