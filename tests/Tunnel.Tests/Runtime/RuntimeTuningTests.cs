using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tunnel.Net;
using Tunnel.Relay;
using Tunnel.Runtime;

namespace Tunnel.Tests.Runtime;

/// <summary>The process-level tuning measured in bench/: memory given back after connections close, and silent paths
/// failing fast.</summary>
public sealed class RuntimeTuningTests
{
    [Fact]
    public void The_trimmer_runs_once_connections_have_fallen_and_settled_and_not_while_busy_and_empties_the_buffer_pool()
    {
        var tracker = new ConnectionTracker();
        var buffers = new BufferPool(arraysPerSize: 4);
        var trimmer = new MemoryTrimmer(tracker, NullLogger.Instance, new FakeTimeProvider(), buffers);
        for (var i = 0; i < 400; i++)
        {
            tracker.Enter();
        }

        Assert.False(trimmer.Check()); // busy: nothing fell
        Assert.False(trimmer.Check());
        for (var i = 0; i < 350; i++)
        {
            tracker.Exit();
        }

        buffers.Return(buffers.Rent(StreamPump.MaxBufferSize)); // what the closed connections left in the pool
        Assert.False(trimmer.Check()); // just fell: wait one period for it to settle
        Assert.Equal(256 * 1024, buffers.RetainedBytes);
        Assert.True(trimmer.Check());
        Assert.Equal(0, buffers.RetainedBytes); // the pool let go of them
        Assert.False(trimmer.Check()); // the new peak is what is left
        trimmer.Dispose();
    }

    [Fact]
    public void The_trimmer_runs_once_per_quiet_spell_and_not_for_a_process_holding_many_connections()
    {
        var tracker = new ConnectionTracker();
        var buffers = new BufferPool(arraysPerSize: 4);
        using var trimmer = new MemoryTrimmer(tracker, NullLogger.Instance, new FakeTimeProvider(), buffers);

        Assert.True(trimmer.Check()); // just started, nothing happened: what start-up left is given back
        Assert.False(trimmer.Check()); // once per quiet spell

        tracker.Enter();
        buffers.Return(buffers.Rent(StreamPump.MaxBufferSize));
        Assert.False(trimmer.Check()); // a connection opened: not quiet
        Assert.True(trimmer.Check()); // quiet again with one open
        Assert.Equal(0, buffers.RetainedBytes);
        Assert.False(trimmer.Check());

        tracker.Exit();
        tracker.Enter();
        Assert.False(trimmer.Check()); // churn at a steady count is activity too
        Assert.True(trimmer.Check());

        for (var i = 0; i < 100; i++)
        {
            tracker.Enter();
        }

        Assert.False(trimmer.Check());
        Assert.False(trimmer.Check()); // quiet, but 101 open: a big heap is left alone
        Assert.False(trimmer.Check());
    }

    [Fact]
    public void A_quiet_process_is_trimmed_again_only_when_its_resident_memory_grows_by_a_mebibyte()
    {
        var tracker = new ConnectionTracker();
        var buffers = new BufferPool(arraysPerSize: 4);
        long resident = 20 << 20;
        using var trimmer = new MemoryTrimmer(tracker, NullLogger.Instance, new FakeTimeProvider(), buffers, () => resident);

        Assert.True(trimmer.Check()); // quiet from the start: trimmed once
        resident += 512 << 10;
        Assert.False(trimmer.Check()); // grew, but by less than 1 MiB
        resident += 512 << 10;
        buffers.Return(buffers.Rent(StreamPump.MaxBufferSize));
        Assert.True(trimmer.Check()); // 1 MiB more with no tunneled connection opened or closed (e.g. after a reload)
        Assert.Equal(0, buffers.RetainedBytes);
        Assert.False(trimmer.Check()); // measured again after the trim: that is the new baseline
        resident += 4 << 20;
        tracker.Enter();
        Assert.False(trimmer.Check()); // not quiet: a connection opened
        Assert.True(trimmer.Check()); // quiet again: the ordinary quiet trim
    }

    [Fact]
    public void A_jit_process_keeps_its_memory_as_it_is_and_says_why()
    {
        // The test host runs with the JIT; the release itself is checked on the published daemons
        // (Tunnel.EndToEnd PublishedFormReleasesStartupTypeData).
        var outcome = StartupTypeData.Release();
        Assert.Equal("not a Native AOT build", outcome.Skipped);
        Assert.Equal(0, outcome.Length);
    }

    [Fact]
    public void Anonymous_resident_memory_is_read_from_statm_and_is_part_of_the_working_set()
    {
        var anonymous = ResidentMemory.AnonymousBytes();
        var (resident, shared) = ReadStatmPages();
        Assert.InRange(anonymous, 1 << 20, Environment.WorkingSet);
        // Read again just after: within 4 MiB of what the test reads itself (the process keeps allocating meanwhile).
        Assert.InRange(anonymous, (resident - shared) * Environment.SystemPageSize - (4 << 20), (resident - shared) * Environment.SystemPageSize + (4 << 20));

        static (long Resident, long Shared) ReadStatmPages()
        {
            var fields = File.ReadAllText("/proc/self/statm").Split(' ');
            return (long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture), long.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public void Sockets_get_tcp_user_timeout_keepalive_and_no_delay()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        SocketTuning.Apply(socket, KeepAliveOptions.Default with { UnacknowledgedTimeout = TimeSpan.FromSeconds(7) });

        var value = new byte[4];
        socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, 18 /* TCP_USER_TIMEOUT */, value);
        Assert.Equal(7000, BitConverter.ToInt32(value));
        Assert.True(socket.NoDelay);
        Assert.Equal(1, (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
        Assert.Equal(60, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime)!);
    }
}
