using Tunnel.Net;
using Tunnel.Relay;

namespace Tunnel.Client.Dialing;

/// <summary>A pooled TLS connection keeps a zero-byte read pending while it waits, so that a server closing it is
/// noticed (and SslStream consumes the server's session tickets meanwhile). SslStream allows one read at a time, so
/// the relay's first read waits for that pending one instead of starting its own.</summary>
internal sealed class PendingReadEndpoint(TlsEndpoint inner, Task pendingRead) : IRelayEndpoint
{
    public Stream Stream { get; } = new PendingReadStream(inner.Stream, pendingRead);

    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken) => inner.CompleteWritesAsync(cancellationToken);

    public void Abort() => inner.Abort();

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private sealed class PendingReadStream(Stream inner, Task pendingRead) : ReadWrappingStream(inner), IReadAhead
    {
        private Task? _pending = pendingRead;

        public bool MoreIsHere => _pending is null && Inner is IReadAhead { MoreIsHere: true };

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

            return await Inner.ReadAsync(buffer, cancellationToken);
        }
    }
}
