using Tunnel.Relay;

namespace Tunnel.Client.Connections;

/// <summary>The server side of a tunnel read through a <see cref="FirstResponseGuard"/>; closing and aborting act on
/// the real TLS connection.</summary>
internal sealed class GuardedEndpoint : IRelayEndpoint
{
    private readonly IRelayEndpoint _inner;
    private readonly FirstResponseGuard _guard;

    public GuardedEndpoint(IRelayEndpoint inner, Action<string> onNoAnswer)
    {
        _inner = inner;
        _guard = new FirstResponseGuard(inner.Stream, onNoAnswer);
    }

    public Stream Stream => _guard;

    /// <summary>True when the tunnel ended before any response and the client was answered with a 502.</summary>
    public bool Answered502 => _guard.Answered502;

    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken) => _inner.CompleteWritesAsync(cancellationToken);

    public void Abort() => _inner.Abort();

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
