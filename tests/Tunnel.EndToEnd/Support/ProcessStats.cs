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

    /// <summary>How many pages of [start, start + length) are resident in the process (/proc/PID/pagemap: bit 63 of
    /// each page's 8-byte entry).</summary>
    public static int ResidentPages(int pid, long start, long length)
    {
        var page = Environment.SystemPageSize;
        using var pagemap = File.OpenHandle($"/proc/{pid}/pagemap");
        var entries = new byte[checked((int)(length / page * 8))];
        RandomAccess.Read(pagemap, entries, start / page * 8);
        var resident = 0;
        for (var at = 0; at < entries.Length; at += 8)
        {
            if ((BitConverter.ToUInt64(entries, at) & (1UL << 63)) != 0)
                resident++;
        }
        return resident;
    }

    /// <summary>The mapping of /proc/PID/maps that holds ADDRESS: its permissions and path.</summary>
    public static (string Permissions, string Path)? MappingAt(int pid, long address)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/maps"))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            var range = fields[0].Split('-');
            if (long.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture) <= address
                && address < long.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture))
                return (fields[1], fields.Length == 6 ? fields[5].Trim() : "");
        }
        return null;
    }

    [DllImport("libc", EntryPoint = "sysconf")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern long SysConf(int name);
}
