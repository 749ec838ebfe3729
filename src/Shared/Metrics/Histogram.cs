namespace Tunnel.Metrics;

/// <summary>A Prometheus histogram with fixed upper bounds: lock-free observation (one bucket increment, one count,
/// one sum update).</summary>
internal sealed class Histogram(double[] bounds)
{
    /// <summary>Seconds, from 1 ms to 10 s: TLS handshakes and connect times.</summary>
    public static readonly double[] LatencyBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Seconds, from 10 ms to a day: connection lifetimes.</summary>
    public static readonly double[] DurationBounds = [0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 21600, 86400];

    private readonly long[] _buckets = new long[bounds.Length];
    private readonly Gauge _sum = new();
    private long _count;

    public IReadOnlyList<double> Bounds => bounds;

    public long Count => Interlocked.Read(ref _count);

    public double Sum => _sum.Value;

    public void Observe(double value)
    {
        var index = Array.BinarySearch(bounds, value);
        if (index < 0)
        {
            index = ~index;
        }

        if (index < _buckets.Length)
        {
            Interlocked.Increment(ref _buckets[index]);
        }

        _sum.Add(value);
        Interlocked.Increment(ref _count);
    }

    /// <summary>Cumulative counts per bound, as the exposition format wants them.</summary>
    public long[] CumulativeCounts()
    {
        var result = new long[_buckets.Length];
        long running = 0;
        for (var i = 0; i < _buckets.Length; i++)
        {
            running += Interlocked.Read(ref _buckets[i]);
            result[i] = running;
        }

        return result;
    }
}
