using Tunnel.Relay;

namespace Tunnel.Http;

/// <summary>The answering side of a proxy request (the tunnel, or the upstream proxy) read through a
/// <see cref="FirstResponseGuard"/>; closing and aborting act on the real connection.</summary>
internal sealed class GuardedEndpoint : IRelayEndpoint
{
    private readonly IRelayEndpoint _inner;
    private readonly FirstResponseGuard _guard;

    public GuardedEndpoint(IRelayEndpoint inner, Func<Exception?, string> explain, Action<string> onNoAnswer)
    {
        _inner = inner;
        _guard = new FirstResponseGuard(inner.Stream, explain, onNoAnswer);
    }

    public Stream Stream => _guard;

    /// <summary>True when it ended before any response and the reader was answered with a 502.</summary>
    public bool Answered502 => _guard.Answered502;

    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken) => _inner.CompleteWritesAsync(cancellationToken);

    public void Abort() => _inner.Abort();

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
