using Tunnel.Common;

namespace Tunnel.Tests.Config;

/// <summary>The default connection limit leaves room for what the process holds and will still open.</summary>
public sealed class FileDescriptorLimitTests
{
    [Theory]
    [InlineData(20000, 57, false, 9915)]
    [InlineData(1024, 57, false, 427)]
    [InlineData(1024, 57, true, 411)]
    [InlineData(200, 57, false, 15)]
    [InlineData(100, 57, true, 1)]
    public void Two_descriptors_per_connection_after_those_in_use_and_the_reserve(int limit, int inUse, bool admin, int expected) =>
        Assert.Equal(expected, FileDescriptorLimit.Derive(limit, inUse, admin));

    [Fact]
    public void The_admin_reserve_covers_every_admin_connection_and_the_listener() =>
        Assert.InRange(FileDescriptorLimit.AdminReserve, Tunnel.Admin.AdminServer.MaxConnections + 1, Tunnel.Admin.AdminServer.MaxConnections * 4);

    [Fact]
    public void This_process_counts_what_it_holds()
    {
        // The test host, like the daemons, keeps every loaded assembly open: far more than stdin, stdout and stderr.
        Assert.InRange(FileDescriptorLimit.InUse() ?? 0, 20, int.MaxValue);
        Assert.True(FileDescriptorLimit.DefaultMaxConnections(admin: false) < (FileDescriptorLimit.Current()! - FileDescriptorLimit.InUse()!) / 2);
    }
}
