using Tunnel.Relay;

namespace Tunnel.Tests.Relay;

public sealed class AdaptiveBufferSizeTests
{
    [Fact]
    public void Full_reads_double_the_size_up_to_the_largest()
    {
        var size = new AdaptiveBufferSize(100, 400);

        Assert.True(size.Observe(100, 100));
        Assert.Equal(200, size.Current);
        Assert.True(size.Observe(200, 200));
        Assert.Equal(400, size.Current);
        Assert.False(size.Observe(400, 400));
        Assert.Equal(400, size.Current);
    }

    [Fact]
    public void Reads_of_a_quarter_or_less_halve_it_down_to_the_smallest_and_others_keep_it()
    {
        var size = GrownToLargest();

        Assert.False(size.Observe(101, 400));
        Assert.Equal(400, size.Current);
        Assert.True(size.Observe(100, 400));
        Assert.Equal(200, size.Current);
        Assert.True(size.Observe(1, 200));
        Assert.Equal(100, size.Current);
        Assert.False(size.Observe(1, 100));
        Assert.Equal(100, size.Current);
    }

    [Fact]
    public void A_write_that_had_to_wait_halves_it_even_after_a_full_read()
    {
        var size = GrownToLargest();

        Assert.True(size.Observe(400, 400, outputKeptUp: false));
        Assert.Equal(200, size.Current);
        Assert.True(size.Observe(200, 200, outputKeptUp: false));
        Assert.Equal(100, size.Current);
        Assert.False(size.Observe(100, 100, outputKeptUp: false));
        Assert.Equal(100, size.Current);
    }

    /// <summary>From 100 to 400 by two full reads.</summary>
    private static AdaptiveBufferSize GrownToLargest()
    {
        var size = new AdaptiveBufferSize(100, 400);
        size.Observe(100, 100);
        size.Observe(200, 200);
        Assert.Equal(400, size.Current);
        return size;
    }
}
