namespace Tunnel.EndToEnd.Support;

/// <summary>A write-only wrapper that lets the first <paramref name="pauseAfter"/> bytes through, reports that it is
/// paused, and holds further writes until released: a transfer that is demonstrably in flight at a chosen moment.</summary>
internal sealed class PausingStream(Stream inner, long pauseAfter, TaskCompletionSource paused, Task release) : Stream
{
    private long _written;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_written < pauseAfter && _written + buffer.Length >= pauseAfter)
        {
            var before = (int)(pauseAfter - _written);
            await inner.WriteAsync(buffer[..before], cancellationToken);
            await inner.FlushAsync(cancellationToken);
            _written += before;
            buffer = buffer[before..];
            paused.TrySetResult();
            await release.WaitAsync(cancellationToken);
        }

        await inner.WriteAsync(buffer, cancellationToken);
        _written += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Flush() => inner.Flush();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
