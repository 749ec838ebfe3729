namespace Tunnel.Relay;

/// <summary>The first bytes of a connection, read before the far side exists, in a pooled buffer. It goes back to
/// the pool as soon as the bytes are forwarded (<see cref="Release"/>), not when the connection ends: held for the
/// connection's life it was 16 KiB per side of every idle tunnel.</summary>
internal sealed class FirstChunk : IDisposable
{
    private const int Capacity = 16 * 1024;

    private byte[]? _buffer;
    private int _length;

    private FirstChunk(byte[] buffer) => _buffer = buffer;

    /// <summary>Waits for the stream's first bytes without holding a buffer (a zero-byte read), then reads them into a
    /// rented one. Null when the stream ended without a byte; on an error nothing stays rented.</summary>
    public static async Task<FirstChunk?> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
#pragma warning disable CA2022 // A zero-byte read returns no data by design.
        await stream.ReadAsync(Memory<byte>.Empty, cancellationToken);
#pragma warning restore CA2022
        var chunk = new FirstChunk(BufferPool.Shared.Rent(Capacity));
        try
        {
            chunk._length = await stream.ReadAsync(chunk._buffer!.AsMemory(0, Capacity), cancellationToken);
        }
        catch
        {
            chunk.Release();
            throw;
        }

        if (chunk._length > 0)
        {
            return chunk;
        }

        chunk.Release();
        return null;
    }

    public ReadOnlyMemory<byte> Data => _buffer is null ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(0, _length);

    public int Length => _length;

    /// <summary>Returns the buffer to the pool; the chunk is empty afterwards.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            BufferPool.Shared.Return(buffer);
        }
    }

    public void Dispose() => Release();
}
