namespace Tunnel.Logging;

/// <summary>Sequential connection ids for one process, as stunnel's <c>logId = sequential</c>.</summary>
internal sealed class ConnectionIds
{
    private long _last;

    public long Next() => Interlocked.Increment(ref _last);
}
