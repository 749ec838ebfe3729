using System.Globalization;
using System.Runtime.InteropServices;

namespace Tunnel.EndToEnd.Support;

/// <summary>What /proc says about a process the test started: open file descriptors, CPU time used, mapped code.</summary>
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

    /// <summary>The executable mappings of FILE in the process (/proc/PID/smaps): their size and how much of them is
    /// resident, in KiB.</summary>
    public static (long SizeKib, long ResidentKib) MappedCode(int pid, string file)
    {
        long size = 0, resident = 0;
        var inCode = false;
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 0 && fields[0].Contains('-', StringComparison.Ordinal) && !fields[0].EndsWith(':'))
            {
                // "start-end perms offset dev inode [path]": a new mapping
                inCode = fields.Length >= 6 && fields[1].Contains('x', StringComparison.Ordinal) && fields[5] == file;
                continue;
            }
            if (!inCode || fields.Length < 2)
                continue;
            if (fields[0] == "Size:")
                size += long.Parse(fields[1], CultureInfo.InvariantCulture);
            else if (fields[0] == "Rss:")
                resident += long.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        return (size, resident);
    }

    [DllImport("libc", EntryPoint = "sysconf")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern long SysConf(int name);
}
