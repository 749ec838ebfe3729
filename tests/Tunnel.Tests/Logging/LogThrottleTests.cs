using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Tunnel.Logging;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Logging;

/// <summary>A repeated line is written at most <c>burst</c> times per key and interval; the rest are counted and
/// reported once: in the next written line, or as a summary line at the end of the interval.</summary>
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

    [Fact]
    public void Each_key_gets_its_own_burst_and_its_own_count()
    {
        var time = new FakeTimeProvider();
        var throttle = new LogThrottle(TimeSpan.FromSeconds(10), time, burst: 3);

        var written = new Dictionary<string, int> { ["handshake-failed"] = 0, ["first-byte-timeout"] = 0 };
        for (var i = 0; i < 1000; i++)
        {
            foreach (var key in written.Keys.ToList())
            {
                if (throttle.ShouldLog(key, out _))
                {
                    written[key]++;
                }
            }
        }

        Assert.Equal(3, written["handshake-failed"]);
        Assert.Equal(3, written["first-byte-timeout"]);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(throttle.ShouldLog("handshake-failed", out var suppressed));
        Assert.Equal(997, suppressed);
        Assert.True(throttle.ShouldLog("first-byte-timeout", out suppressed));
        Assert.Equal(997, suppressed);
    }

    [Fact]
    public void With_a_summary_logger_the_count_is_written_when_the_interval_ends_even_if_the_flood_stopped()
    {
        var time = new FakeTimeProvider();
        var logs = new LogCollector();
        var throttle = new LogThrottle(TimeSpan.FromSeconds(10), time, burst: 2, summaryLogger: logs.CreateLogger("test"));

        var written = Enumerable.Range(0, 1236).Count(_ => throttle.ShouldLog("junk", out long _));
        Assert.Equal(2, written);
        Assert.Empty(logs.Lines);

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty(logs.Lines);
        time.Advance(TimeSpan.FromSeconds(1));
        var summary = Assert.Single(logs.Lines);
        Assert.Equal(LogLevel.Warning, summary.Level);
        Assert.Equal("LogSuppressed", summary.EventId.Name);
        Assert.Equal("junk: suppressed 1234 more like this in the last 10s", summary.Message);

        // Already reported: the next written line carries no count, and a quiet interval writes no summary.
        Assert.True(throttle.ShouldLog("junk", out var suppressed));
        Assert.Equal(0, suppressed);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Single(logs.Lines);
    }
}
