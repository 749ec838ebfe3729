using System.Threading.RateLimiting;

namespace Tunnel.Net;

/// <summary>Lets events through at a <see cref="RateLimit"/>, refusing (never queueing) the excess: a token bucket
/// holding <see cref="RateLimit.Burst"/> tokens, refilled at the rate.</summary>
/// <remarks>The bucket refills on the real clock: the System.Threading.RateLimiting limiters take no TimeProvider
/// (https://github.com/dotnet/runtime/issues/106447), so tests use rates slow enough not to refill during a test.</remarks>
internal sealed class RateLimitGate : IDisposable
{
    /// <summary>Refills happen at most this often, in proportional steps, so a high rate costs no busy timer.</summary>
    private static readonly TimeSpan RefillStep = TimeSpan.FromMilliseconds(100);

    private readonly TokenBucketRateLimiter _bucket;

    public RateLimitGate(RateLimit rate)
    {
        Rate = rate;
        // N per period, refilled in steps of at least RefillStep: 50/s gives 5 tokens every 100 ms; 2/s gives one
        // every 500 ms; 1/m one a minute.
        var perStep = Math.Max(1, (int)(rate.Permits * RefillStep.Ticks / rate.Per.Ticks));
        _bucket = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = rate.Burst,
            TokensPerPeriod = perStep,
            ReplenishmentPeriod = rate.Per * perStep / rate.Permits,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    public RateLimit Rate { get; }

    /// <summary>Takes a token if one is left.</summary>
    public bool TryPass()
    {
        using var lease = _bucket.AttemptAcquire();
        return lease.IsAcquired;
    }

    public void Dispose() => _bucket.Dispose();
}
