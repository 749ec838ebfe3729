namespace Tunnel.Common;

/// <summary>The process's open-file limit, which bounds how many connections it can hold.</summary>
internal static class FileDescriptorLimit
{
    /// <summary>Descriptors kept free for what the process opens after its configuration is read: the runtime goes on
    /// loading assemblies, two descriptors each (about 60 more by the first relayed connection, measured with .NET
    /// 10), then listeners, log files, health checks and certificate reloads.</summary>
    public const int Reserve = 80;

    /// <summary>The admin endpoint: its listener and connections (at most 16, Tunnel.Admin.AdminServer.MaxConnections;
    /// a test keeps the two in step), and the few assemblies a JIT build loads to serve /readyz and /metrics.</summary>
    public const int AdminReserve = 32;

    /// <summary>Descriptors the listeners hold open on /dev/null for the runtime's own needs when the process runs
    /// out (Tunnel.Net.DescriptorReserve); counted in the default connection limit.</summary>
    public const int ListenerReserve = 32;

    /// <summary>The soft RLIMIT_NOFILE, read from /proc (no P/Invoke needed); null where unknown.</summary>
    public static int? Current()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return int.TryParse(parts[3], out var soft) ? soft : null;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>Descriptors the process holds now (about 60 when the configuration is read: the runtime keeps every
    /// loaded assembly open); null where unknown.</summary>
    public static int? InUse()
    {
        try
        {
            return Directory.GetFileSystemEntries("/proc/self/fd").Length;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>The default for <c>maxConnections</c>: what the open-file limit leaves, after the descriptors in use
    /// and the reserve, at two per relayed connection (accepted and dialled socket). 10,000 where the limit is unknown.</summary>
    public static int DefaultMaxConnections(bool admin) =>
        Current() is { } limit ? Derive(limit, InUse() ?? 0, admin) : 10_000;

    /// <summary>At least one: a limit too low for that is the operator's to raise (accept backs off on EMFILE). The
    /// listeners' <see cref="ListenerReserve"/> comes off too.</summary>
    public static int Derive(int limit, int inUse, bool admin) =>
        Math.Max(1, (limit - inUse - Reserve - ListenerReserve - (admin ? AdminReserve : 0)) / 2);
}
