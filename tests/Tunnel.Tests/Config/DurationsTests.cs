using Tunnel.Common;

namespace Tunnel.Tests.Config;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("10s", 10_000)]
    [InlineData("10", 10_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("5m", 300_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("2d", 172_800_000)]
    [InlineData(" 30S ", 30_000)]
    public void Parses_what_operators_write(string text, int milliseconds)
    {
        Assert.True(Durations.TryParse(text, allowDisabled: false, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("off")]
    [InlineData("infinite")]
    public void Zero_and_off_disable_a_limit_only_where_allowed(string text)
    {
        Assert.True(Durations.TryParse(text, allowDisabled: true, out var value));
        Assert.Equal(Timeout.InfiniteTimeSpan, value);
        Assert.False(Durations.TryParse(text, allowDisabled: false, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("10x")]
    [InlineData("-5s")]
    [InlineData("s")]
    [InlineData("99999d")]
    public void Rejects_nonsense(string text) => Assert.False(Durations.TryParse(text, allowDisabled: true, out _));

    [Theory]
    [InlineData(250, "250ms")]
    [InlineData(60_000, "1m")]
    [InlineData(90_000, "90s")]
    [InlineData(3_600_000, "1h")]
    public void Formats_with_the_largest_whole_unit(int milliseconds, string expected) =>
        Assert.Equal(expected, Durations.Format(TimeSpan.FromMilliseconds(milliseconds)));
}
