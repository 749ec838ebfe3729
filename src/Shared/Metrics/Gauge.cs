namespace Tunnel.Metrics;

/// <summary>A value that goes up and down, set directly or moved by increments.</summary>
internal sealed class Gauge
{
    private long _bits;

    public double Value => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _bits));

    public void Set(double value) => Interlocked.Exchange(ref _bits, BitConverter.DoubleToInt64Bits(value));

    public void Add(double amount)
    {
        long current, next;
        do
        {
            current = Interlocked.Read(ref _bits);
            next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(current) + amount);
        }
        while (Interlocked.CompareExchange(ref _bits, next, current) != current);
    }

    public void Increment() => Add(1);

    public void Decrement() => Add(-1);
}
