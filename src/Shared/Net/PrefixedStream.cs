namespace Tunnel.Net;

/// <summary>A stream that first returns bytes already taken from its inner stream (those that arrived with a PROXY
/// header), then reads the inner stream itself. Writes go straight through. Disposing disposes the inner stream.</summary>
internal sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner) : ReadWrappingStream(inner, ownsInner: true)
{
    private ReadOnlyMemory<byte> _prefix = prefix;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _prefix.IsEmpty ? Inner.ReadAsync(buffer, cancellationToken) : ValueTask.FromResult(Take(buffer.Span));

    public override int Read(Span<byte> buffer) => _prefix.IsEmpty ? Inner.Read(buffer) : Take(buffer);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    private int Take(Span<byte> buffer)
    {
        var count = Math.Min(buffer.Length, _prefix.Length);
        _prefix.Span[..count].CopyTo(buffer);
        _prefix = _prefix[count..];
        return count;
    }
}
