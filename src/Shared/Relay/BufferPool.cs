using System.Buffers;
using System.Numerics;

namespace Tunnel.Relay;

/// <summary>The relay's buffers: relay reads, TLS records, multiplexed frames and stream queues. Like
/// <c>ArrayPool&lt;byte&gt;.Shared</c> it keeps returned arrays for the next connection, in power-of-two sizes from
/// 4 KiB to 1 MiB, a bounded number of each; unlike it, <see cref="Trim"/> gives them all back at once. Smaller
/// requests (control frames of a few bytes) go to the shared pool, whose arrays of that size weigh nothing. The shared
/// pool keeps up to 32 arrays of each size per core until a full collection finds them unused for a minute, and an
/// idle process has no full collections: after a burst of connections or of bulk transfers it held their buffers
/// for good (up to 64 arrays of 256 KiB here). The memory trimmer calls <see cref="Trim"/> when connections go.</summary>
internal sealed class BufferPool
{
    public const int MinimumLength = 4 * 1024;
    public const int MaximumLength = 1024 * 1024;
    private static readonly int MinimumShift = BitOperations.Log2(MinimumLength);

    private readonly Bucket[] _buckets;

    public BufferPool(int arraysPerSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(arraysPerSize, 1);
        _buckets = new Bucket[BitOperations.Log2(MaximumLength) - MinimumShift + 1];
        for (var i = 0; i < _buckets.Length; i++)
        {
            _buckets[i] = new Bucket(MinimumLength << i, arraysPerSize);
        }
    }

    /// <summary>The process's pool: as many arrays of each size as the shared pool keeps (32 per core).</summary>
    public static BufferPool Shared { get; } = new(32 * Environment.ProcessorCount);

    /// <summary>Bytes held in the pool, not rented.</summary>
    public long RetainedBytes
    {
        get
        {
            long total = 0;
            foreach (var bucket in _buckets)
            {
                total += (long)bucket.Count * bucket.Length;
            }

            return total;
        }
    }

    /// <summary>An array of at least <paramref name="minimumLength"/> bytes: a power of two from 4 KiB; larger than
    /// <see cref="MaximumLength"/>, a new array the pool will not keep.</summary>
    public byte[] Rent(int minimumLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumLength);
        if (minimumLength < MinimumLength)
        {
            return ArrayPool<byte>.Shared.Rent(minimumLength);
        }

        return BucketFor(minimumLength) is { } bucket ? bucket.Rent() : GC.AllocateUninitializedArray<byte>(minimumLength);
    }

    /// <summary>Keeps the array for the next <see cref="Rent"/>, unless its size is not one the pool hands out or
    /// the pool holds enough of that size already (the collector takes it then).</summary>
    public void Return(byte[] array)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.Length == 0)
        {
            return; // what Rent(0) hands out: nothing to keep
        }

        if (array.Length < MinimumLength)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
        else if (BucketFor(array.Length) is { } bucket && bucket.Length == array.Length)
        {
            bucket.Return(array);
        }
    }

    /// <summary>Lets go of every array the pool holds.</summary>
    public void Trim()
    {
        foreach (var bucket in _buckets)
        {
            bucket.Clear();
        }
    }

    private Bucket? BucketFor(int length)
    {
        if (length > MaximumLength)
        {
            return null;
        }

        var index = length <= MinimumLength ? 0 : BitOperations.Log2((uint)length - 1) + 1 - MinimumShift;
        return _buckets[index];
    }

    private sealed class Bucket(int length, int capacity)
    {
        private readonly Lock _lock = new();
        private readonly byte[]?[] _arrays = new byte[capacity][];
        private int _count;

        public int Length { get; } = length;

        public int Count => Volatile.Read(ref _count);

        public byte[] Rent()
        {
            lock (_lock)
            {
                if (_count > 0)
                {
                    var array = _arrays[--_count]!;
                    _arrays[_count] = null;
                    return array;
                }
            }

            return GC.AllocateUninitializedArray<byte>(Length);
        }

        public void Return(byte[] array)
        {
            lock (_lock)
            {
                if (_count < _arrays.Length)
                {
                    _arrays[_count++] = array;
                }
            }
        }

        public void Clear()
        {
            lock (_lock)
            {
                Array.Clear(_arrays, 0, _count);
                _count = 0;
            }
        }
    }
}
