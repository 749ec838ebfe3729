using System.Buffers;

namespace Tunnel.Relay;

/// <summary>The first bytes of a connection, read before the far side exists, in a pooled buffer. It goes back to
/// the pool as soon as the bytes are forwarded (<see cref="Release"/>), not when the connection ends: held for the
/// connection's life it was 16 KiB per side of every idle tunnel.</summary>
internal sealed class FirstChunk : IDisposable
{
    public const int Capacity = 16 * 1024;

    private byte[]? _buffer;
    private int _length;

    private FirstChunk(byte[] buffer) => _buffer = buffer;

    public static FirstChunk Rent() => new(ArrayPool<byte>.Shared.Rent(Capacity));

    /// <summary>Where to read into.</summary>
    public Memory<byte> Space => (_buffer ?? throw new ObjectDisposedException(nameof(FirstChunk))).AsMemory(0, Capacity);

    public ReadOnlyMemory<byte> Data => _buffer is null ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(0, _length);

    public int Length => _length;

    public void SetLength(int length) => _length = length;

    /// <summary>Returns the buffer to the pool; the chunk is empty afterwards.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose() => Release();
}
