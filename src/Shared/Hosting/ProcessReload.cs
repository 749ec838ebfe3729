using Microsoft.Extensions.Logging;
using Tunnel.Config;

namespace Tunnel.Hosting;

/// <summary>What a reload cannot apply to a running process: process settings and the set of tunnels. maxConnections
/// counts as changed only when the configured value did (<see cref="ProcessOptions.ConfiguredMaxConnections"/>): the
/// default derived from the open-file limit is recomputed at each read and is not the operator's change.</summary>
internal static class ProcessReload
{
    public static void ReportRestartOnly(ILogger logger, ProcessOptions running, ProcessOptions updated,
        IEnumerable<string> runningTunnels, IEnumerable<string> updatedTunnels)
    {
        if (running.Log != updated.Log || running.ShutdownTimeout != updated.ShutdownTimeout ||
            running.ConfiguredMaxConnections != updated.ConfiguredMaxConnections || running.WatchInterval != updated.WatchInterval)
        {
            ReloadLog.NeedsRestart(logger, "log, shutdownTimeout, maxConnections or watchInterval changed");
        }

        var before = runningTunnels.ToHashSet();
        var after = updatedTunnels.ToHashSet();
        foreach (var added in after.Except(before))
        {
            ReloadLog.NeedsRestart(logger, $"tunnel {added} was added");
        }

        foreach (var removed in before.Except(after))
        {
            ReloadLog.NeedsRestart(logger, $"tunnel {removed} was removed (it keeps running until then)");
        }
    }
}
