namespace Tunnel.Net;

/// <summary>A cap on concurrent connections, taken before accept() so that excess connections wait in the kernel
/// backlog instead of being accepted and dropped (ghostunnel does the same; stunnel accepts and then closes).</summary>
internal sealed class ConnectionLimiter : IDisposable
{
    private readonly SemaphoreSlim _slots;

    public ConnectionLimiter(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        Limit = limit;
        _slots = new SemaphoreSlim(limit, limit);
    }

    public int Limit { get; }

    public int InUse => Limit - _slots.CurrentCount;

    public Task WaitAsync(CancellationToken cancellationToken) => _slots.WaitAsync(cancellationToken);

    /// <summary>Takes a slot if one is free, without waiting (a multiplexed stream: it has no backlog to wait in).</summary>
    public bool TryAcquire() => _slots.Wait(0);

    public void Release() => _slots.Release();

    public void Dispose() => _slots.Dispose();
}
