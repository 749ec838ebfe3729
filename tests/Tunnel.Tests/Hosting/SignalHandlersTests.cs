using Tunnel.Hosting;

namespace Tunnel.Tests.Hosting;

/// <summary>Which signals the process ignores, read as the daemons read it at start (the end-to-end test
/// SignalsWorkUnderNohup runs a daemon under nohup).</summary>
public sealed class SignalHandlersTests
{
    [Fact]
    public void The_ignored_signals_are_read_from_proc()
    {
        // .NET sets SIGPIPE (13) to ignored in every process it runs, so bit 12 is set here; SIGTERM (15) is not.
        var ignored = SignalHandlers.IgnoredMask();

        Assert.NotEqual(0UL, ignored & (1UL << 12));
        Assert.Equal(0UL, ignored & (1UL << 14));
    }
}
