using System.Net.Sockets;
using System.Security.Cryptography;
using Tunnel.Tests.Support;

namespace Tunnel.EndToEnd.Migration;

/// <summary>The upstream behind stunnel and behind Tunnel: waits for a connection's first byte (so tunnel-server's
/// health checks, which connect and leave without one, count for nothing), then receives to the end while sending
/// a seeded payload, and records the SHA-256 of what it received.</summary>
internal sealed class MigrationUpstream : IAsyncDisposable
{
    private readonly TcpTestServer _server;
    private readonly long _size;
    private int _seed;
    private int _carried;
    private TaskCompletionSource<(string Sha256, long Length)> _received = New();

    public MigrationUpstream(long size, int seed)
    {
        _size = size;
        _seed = seed;
        _server = new TcpTestServer(HandleAsync);
    }

    public string Address => _server.Address;

    /// <summary>Every connection accepted, with a byte or not.</summary>
    public int Accepted => _server.Accepted;

    /// <summary>Connections that carried at least one byte.</summary>
    public int Carried => Volatile.Read(ref _carried);

    /// <summary>What the connection of the current transfer received (see <see cref="Next"/>).</summary>
    public Task<(string Sha256, long Length)> Received => Volatile.Read(ref _received).Task;

    /// <summary>Prepares the next transfer: the client sends with <c>ClientSeed</c>, this upstream answers with
    /// <c>UpstreamSeed</c>.</summary>
    public (int ClientSeed, int UpstreamSeed) Next()
    {
        Volatile.Write(ref _received, New());
        var next = Interlocked.Add(ref _seed, 2);
        return (next, next + 1);
    }

    private async Task HandleAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        var read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
        if (read == 0)
        {
            return;
        }

        Interlocked.Increment(ref _carried);
        var received = Volatile.Read(ref _received);
        var seed = Volatile.Read(ref _seed) + 1;
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var send = Task.Run(async () =>
        {
            await Payload.SendAsync(stream, _size, seed);
            socket.Shutdown(SocketShutdown.Send);
        });
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        do
        {
            hash.AppendData(buffer, 0, read);
            total += read;
        }
        while ((read = await stream.ReadAsync(buffer)) > 0);

        await send;
        received.TrySetResult((Convert.ToHexString(hash.GetHashAndReset()), total));
    }

    private static TaskCompletionSource<(string Sha256, long Length)> New() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
