using Tunnel.Relay;

namespace Tunnel.Client.Connections;

/// <summary>The server side of a tunnel read through a <see cref="FirstResponseGuard"/>; closing and aborting act on
/// the real TLS connection.</summary>
internal sealed class GuardedEndpoint(TlsEndpoint inner) : IRelayEndpoint
{
    public Stream Stream { get; } = new FirstResponseGuard(inner.Stream);

    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken) => inner.CompleteWritesAsync(cancellationToken);

    public void Abort() => inner.Abort();

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
