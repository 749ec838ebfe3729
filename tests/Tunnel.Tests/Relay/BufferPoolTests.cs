using Tunnel.Relay;

namespace Tunnel.Tests.Relay;

/// <summary>The relay's buffer pool: the sizes it hands out, reuse, its bound, and giving everything back.</summary>
public sealed class BufferPoolTests
{
    [Theory]
    [InlineData(4096, 4096)]
    [InlineData(4097, 8192)]
    [InlineData(StreamPump.DefaultBufferSize, 64 * 1024)]
    [InlineData(StreamPump.MaxBufferSize, 256 * 1024)]
    [InlineData(BufferPool.MaximumLength, BufferPool.MaximumLength)]
    [InlineData(BufferPool.MaximumLength + 1, BufferPool.MaximumLength + 1)]
    public void Rent_hands_out_the_next_power_of_two_up_to_the_largest_size(int requested, int expected)
    {
        var pool = new BufferPool(arraysPerSize: 4);

        Assert.Equal(expected, pool.Rent(requested).Length);
    }

    [Fact]
    public void A_returned_array_is_the_next_one_rented_and_small_requests_do_not_use_the_buckets()
    {
        var pool = new BufferPool(arraysPerSize: 4);
        var array = pool.Rent(20_000);

        pool.Return(array);
        Assert.Equal(32 * 1024, pool.RetainedBytes);
        Assert.Same(array, pool.Rent(17_000));
        Assert.Equal(0, pool.RetainedBytes);

        var small = pool.Rent(13); // a control frame
        Assert.InRange(small.Length, 13, BufferPool.MinimumLength - 1);
        pool.Return(small);
        pool.Return(pool.Rent(0)); // an empty array: nothing to keep, and no error
        Assert.Equal(0, pool.RetainedBytes);
    }

    [Fact]
    public void The_pool_keeps_a_bounded_number_of_each_size_and_no_foreign_or_oversized_arrays()
    {
        var pool = new BufferPool(arraysPerSize: 2);

        foreach (var array in new[] { pool.Rent(65_536), pool.Rent(65_536), pool.Rent(65_536) })
        {
            pool.Return(array);
        }

        pool.Return(new byte[5000]); // not a size the pool hands out
        pool.Return(pool.Rent(BufferPool.MaximumLength + 1));

        Assert.Equal(2 * 65_536, pool.RetainedBytes);
    }

    [Fact]
    public void Trim_lets_go_of_every_kept_array()
    {
        var pool = new BufferPool(arraysPerSize: 8);
        var kept = new[] { pool.Rent(4096), pool.Rent(128 * 1024), pool.Rent(128 * 1024), pool.Rent(BufferPool.MaximumLength) };
        foreach (var array in kept)
        {
            pool.Return(array);
        }

        Assert.Equal(4096 + 2 * 128 * 1024 + BufferPool.MaximumLength, pool.RetainedBytes);
        pool.Trim();
        Assert.Equal(0, pool.RetainedBytes);
        var fresh = pool.Rent(128 * 1024);
        Assert.All(kept, array => Assert.NotSame(array, fresh));
    }
}
