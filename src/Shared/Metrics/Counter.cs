namespace Tunnel.Metrics;

/// <summary>A monotonically increasing count, safe to add to from any thread.</summary>
internal sealed class Counter
{
    private long _value;

    public long Value => Interlocked.Read(ref _value);

    public void Add(long amount) => Interlocked.Add(ref _value, amount);

    public void Increment() => Interlocked.Increment(ref _value);
}
