namespace Tunnel.Relay;

/// <summary>One side of a relayed connection: a byte stream that can be half-closed or reset.</summary>
internal interface IRelayEndpoint : IAsyncDisposable
{
    Stream Stream { get; }

    /// <summary>Signals end of stream to the peer while still reading from it: a TCP FIN, or a TLS close_notify
    /// followed by a FIN.</summary>
    ValueTask CompleteWritesAsync(CancellationToken cancellationToken);

    /// <summary>Closes abortively (TCP RST) so the peer cannot mistake a truncated stream for a complete one.</summary>
    void Abort();
}
