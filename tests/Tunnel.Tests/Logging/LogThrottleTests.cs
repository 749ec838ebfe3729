using Microsoft.Extensions.Time.Testing;
using Tunnel.Logging;

namespace Tunnel.Tests.Logging;

/// <summary>A repeated warning is written once per burst: at once, then at most once per interval with the count of
/// those left out.</summary>
public sealed class LogThrottleTests
{
    [Fact]
    public void The_first_occurrence_is_logged_then_the_rest_of_the_interval_is_counted()
    {
        var time = new FakeTimeProvider();
        var throttle = new LogThrottle(TimeSpan.FromSeconds(10), time);

        Assert.True(throttle.ShouldLog(out var suppressed));
        Assert.Equal(0, suppressed);
        for (var i = 0; i < 5; i++)
        {
            Assert.False(throttle.ShouldLog(out _));
        }

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(throttle.ShouldLog(out _));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(throttle.ShouldLog(out suppressed));
        Assert.Equal(6, suppressed);

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.True(throttle.ShouldLog(out suppressed));
        Assert.Equal(0, suppressed);
    }
}
