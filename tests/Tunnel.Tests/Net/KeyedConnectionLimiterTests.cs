using System.Net;
using Tunnel.Net;

namespace Tunnel.Tests.Net;

/// <summary>The per-key cap behind maxConnectionsPerSource and maxConnectionsPerIdentity, and the handshake rate gate.</summary>
public sealed class KeyedConnectionLimiterTests
{
    [Fact]
    public void Each_key_holds_at_most_the_limit_and_a_released_lease_frees_its_slot_once()
    {
        var limiter = new KeyedConnectionLimiter<IPAddress>(2);
        var a = IPAddress.Parse("198.51.100.7");
        var b = IPAddress.Parse("198.51.100.8");

        var first = limiter.TryAcquire(a);
        var second = limiter.TryAcquire(a);
        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Null(limiter.TryAcquire(a));
        Assert.NotNull(limiter.TryAcquire(b));

        first!.Dispose();
        first.Dispose();
        Assert.Equal(1, limiter.Count(a));
        Assert.NotNull(limiter.TryAcquire(a));
        Assert.Null(limiter.TryAcquire(a));
    }

    [Fact]
    public void A_key_without_connections_is_forgotten()
    {
        var limiter = new KeyedConnectionLimiter<string>(1);
        limiter.TryAcquire("CN=site-a")!.Dispose();
        Assert.Equal(0, limiter.Count("CN=site-a"));
        Assert.NotNull(limiter.TryAcquire("CN=site-a"));
    }

    [Fact]
    public void The_rate_gate_lets_a_burst_through_then_refuses()
    {
        // One a minute: no refill happens while the test runs.
        using var gate = new RateLimitGate(new RateLimit(1, TimeSpan.FromMinutes(1), 3));

        Assert.True(gate.TryPass());
        Assert.True(gate.TryPass());
        Assert.True(gate.TryPass());
        Assert.False(gate.TryPass());
    }

    [Theory]
    [InlineData("50/s", 50, 1)]
    [InlineData(" 600 / min ", 600, 60)]
    [InlineData("1/m", 1, 60)]
    public void Rates_are_read_per_second_or_per_minute(string text, int permits, int seconds)
    {
        Assert.True(RateLimit.TryParse(text, out var parsed, out var per));
        Assert.Equal(permits, parsed);
        Assert.Equal(TimeSpan.FromSeconds(seconds), per);
    }

    [Theory]
    [InlineData("50")]
    [InlineData("0/s")]
    [InlineData("-5/s")]
    [InlineData("5/h")]
    [InlineData("fast")]
    public void Anything_else_is_not_a_rate(string text) => Assert.False(RateLimit.TryParse(text, out _, out _));
}
