using Tunnel.Relay;

namespace Tunnel.Client.Connect;

/// <summary>A pooled TLS connection keeps a zero-byte read pending while it waits, so that a server closing it is
/// noticed (and SslStream consumes the server's session tickets meanwhile). SslStream allows one read at a time, so
/// the relay's first read waits for that pending one instead of starting its own.</summary>
internal sealed class PendingReadEndpoint(TlsEndpoint inner, Task pendingRead) : IRelayEndpoint
{
    public Stream Stream { get; } = new PendingReadStream(inner.Stream, pendingRead);

    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken) => inner.CompleteWritesAsync(cancellationToken);

    public void Abort() => inner.Abort();

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private sealed class PendingReadStream(Stream inner, Task pendingRead) : Stream
    {
        private Task? _pending = pendingRead;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_pending is { } pending)
            {
                _pending = null;
                await pending.WaitAsync(cancellationToken);
                if (buffer.IsEmpty)
                {
                    return 0; // the pending zero-byte read completed: data or end of stream is ready
                }
            }

            return await inner.ReadAsync(buffer, cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(buffer, cancellationToken);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.WriteAsync(buffer, offset, count, cancellationToken);
    }
}
