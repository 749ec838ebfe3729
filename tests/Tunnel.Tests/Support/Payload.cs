using System.Net.Sockets;
using System.Security.Cryptography;

namespace Tunnel.Tests.Support;

/// <summary>Deterministic pseudo-random payloads, streamed and hashed without holding them in memory, so large
/// transfers can be compared by SHA-256 in both directions.</summary>
internal static class Payload
{
    /// <summary>Writes <paramref name="length"/> bytes generated from <paramref name="seed"/> in chunks of
    /// <paramref name="chunk"/> and returns their SHA-256.</summary>
    public static async Task<string> SendAsync(Stream stream, long length, int seed, int chunk = 64 * 1024, CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new Random(seed);
        var buffer = new byte[chunk];
        for (long sent = 0; sent < length;)
        {
            var count = (int)Math.Min(chunk, length - sent);
            random.NextBytes(buffer.AsSpan(0, count));
            hash.AppendData(buffer, 0, count);
            await stream.WriteAsync(buffer.AsMemory(0, count), cancellationToken);
            sent += count;
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>Reads to end of stream; returns the SHA-256 and byte count.</summary>
    public static async Task<(string Sha256, long Length)> ReceiveAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            total += read;
        }

        return (Convert.ToHexString(hash.GetHashAndReset()), total);
    }

    /// <summary>The SHA-256 of the payload <see cref="SendAsync"/> would produce.</summary>
    public static string Expected(long length, int seed, int chunk = 64 * 1024)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new Random(seed);
        var buffer = new byte[chunk];
        for (long done = 0; done < length;)
        {
            var count = (int)Math.Min(chunk, length - done);
            random.NextBytes(buffer.AsSpan(0, count));
            hash.AppendData(buffer, 0, count);
            done += count;
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>An upstream that receives everything and sends a payload at the same time (full duplex), then
    /// half-closes; records the hash of what it received.</summary>
    public static Func<Socket, Task> DuplexUpstream(long sendLength, int seed, TaskCompletionSource<(string Sha256, long Length)> received) =>
        async socket =>
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var receive = ReceiveAsync(stream);
            await SendAsync(stream, sendLength, seed);
            socket.Shutdown(SocketShutdown.Send);
            received.TrySetResult(await receive);
        };
}
