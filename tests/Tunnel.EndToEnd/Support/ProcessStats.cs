using System.Globalization;
using System.Runtime.InteropServices;

namespace Tunnel.EndToEnd.Support;

/// <summary>What /proc says about a process the test started: open file descriptors and CPU time used.</summary>
internal static class ProcessStats
{
    private const int ScClkTck = 2;

    /// <summary>Clock ticks per second, the unit of /proc/PID/stat's CPU times.</summary>
    public static long TicksPerSecond { get; } = SysConf(ScClkTck) is var ticks and > 0 ? ticks : 100;

    public static int OpenFiles(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;

    /// <summary>User plus system CPU time so far, in clock ticks.</summary>
    public static long CpuTicks(int pid)
    {
        // "pid (comm) state ppid ..." where comm may hold spaces: the fields after the last ')' are fixed; utime and
        // stime are fields 14 and 15 of the whole line, so 12 and 13 after it.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    [DllImport("libc", EntryPoint = "sysconf")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern long SysConf(int name);
}
