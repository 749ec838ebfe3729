using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tunnel.Runtime;

/// <summary>Hands back to the kernel the pages of the compressed type data a Native AOT executable carries. At start
/// the runtime unpacks that block (about 1.9 MB in each daemon) into the types it runs with, once, and never reads it
/// again; its pages would otherwise stay mapped, and counted in the daemon's resident memory, for the life of the
/// process. The block is found the way the runtime finds it: the executable's <c>__modules</c> section points at each
/// module's header, whose section 207 is the compressed data. Pages are released only where they are plainly safe to
/// release: a read-only mapping of the executable that holds no private (written) page, so the kernel simply drops them,
/// the page cache may keep or evict them, and a read would fault them back in from the file. Anything unexpected (a JIT
/// build, a header version this code does not know, no section table) leaves memory as it is and says why.</summary>
internal static class StartupTypeData
{
    private const uint ReadyToRunSignature = 0x00525452; // "RTR\0"
    private const ushort KnownMajorVersion = 16; // the module header of .NET 10's Native AOT
    private const int RowSize = 24; // section id, flags, start, end
    private const int DehydratedDataSection = 207;
    private const long MinimumRelease = 64 * 1024;
    private const int MadvDontNeed = 4;
    private const string Executable = "/proc/self/exe";

    /// <summary>What <see cref="Release"/> did: the address range released, or why nothing was.</summary>
    public readonly record struct Outcome(long Start, long Length, string? Skipped)
    {
        public static Outcome Skip(string why) => new(0, 0, why);
    }

    /// <summary>Releases the pages of the compressed type data, once, after start.</summary>
    public static Outcome Release()
    {
        if (RuntimeFeature.IsDynamicCodeSupported)
        {
            return Outcome.Skip("not a Native AOT build");
        }
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8 || !BitConverter.IsLittleEndian)
        {
            return Outcome.Skip("only 64-bit Linux executables are read");
        }

        try
        {
            var image = ExecutableImage.Read(Executable);
            if (image.Modules is not { } modules)
            {
                return Outcome.Skip("the executable has no __modules section (section table stripped?)");
            }
            var mappings = Mapping.ReadOwn();
            var path = new FileInfo(Executable).LinkTarget ?? "";
            if (Mapping.LoadBase(mappings, path, image.FirstLoadAddress) is not { } loadBase)
            {
                return Outcome.Skip("the executable's mapping was not found in /proc/self/maps");
            }

            for (var i = 0L; i < modules.Size / IntPtr.Size; i++)
            {
                var slot = loadBase + modules.Address + i * IntPtr.Size;
                if (!Mapping.IsInExecutable(mappings, path, slot, IntPtr.Size))
                {
                    return Outcome.Skip("the __modules section is not where the executable was loaded");
                }
                var header = Marshal.ReadIntPtr((nint)slot);
                if (FindDehydratedData(header, mappings, path) is not { } data)
                {
                    continue;
                }
                var page = (long)Environment.SystemPageSize;
                var start = (data.Start + page - 1) & ~(page - 1);
                var end = data.End & ~(page - 1);
                if (end - start < MinimumRelease)
                {
                    return Outcome.Skip($"the compressed type data is only {data.End - data.Start} bytes");
                }
                if (Mapping.WhyNotReleasable(mappings, start, end, path) is { } why)
                {
                    return Outcome.Skip(why);
                }
                return MAdvise((nint)start, (nuint)(end - start), MadvDontNeed) == 0
                    ? new Outcome(start, end - start, null)
                    : Outcome.Skip($"madvise failed (errno {Marshal.GetLastPInvokeError()})");
            }
            return Outcome.Skip($"no module header of version {KnownMajorVersion} with compressed type data");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or OverflowException or ArgumentException
            or DllNotFoundException or EntryPointNotFoundException)
        {
            return Outcome.Skip(ex.Message);
        }
    }

    /// <summary>The compressed type data's address range from a module header, or null when the header is not one
    /// this code knows.</summary>
    private static (long Start, long End)? FindDehydratedData(nint header, List<Mapping> mappings, string path)
    {
        if (!Mapping.IsInExecutable(mappings, path, header, 16) || (uint)Marshal.ReadInt32(header) != ReadyToRunSignature || (ushort)Marshal.ReadInt16(header, 4) != KnownMajorVersion
            || Marshal.ReadByte(header, 14) != RowSize)
        {
            return null;
        }
        var sections = (ushort)Marshal.ReadInt16(header, 12);
        if (!Mapping.IsInExecutable(mappings, path, header, 16 + sections * RowSize))
        {
            return null;
        }
        for (var i = 0; i < sections; i++)
        {
            var row = header + 16 + i * RowSize;
            if (Marshal.ReadInt32(row) == DehydratedDataSection)
            {
                long start = Marshal.ReadIntPtr(row, 8), end = Marshal.ReadIntPtr(row, 16);
                return end > start ? (start, end) : null;
            }
        }
        return null;
    }

    /// <summary>The two things read from the executable's ELF headers: where its first loadable segment is meant to
    /// sit (to turn addresses into the running process's) and its <c>__modules</c> section.</summary>
    private sealed record ExecutableImage(long FirstLoadAddress, (long Address, long Size)? Modules)
    {
        private const uint LoadSegment = 1;

        public static ExecutableImage Read(string path)
        {
            using var file = File.OpenHandle(path);
            var elf = new byte[64];
            RandomAccess.Read(file, elf, 0);
            if (BinaryPrimitives.ReadUInt32BigEndian(elf) != 0x7F454C46 || elf[4] != 2 || elf[5] != 1)
            {
                throw new FormatException("not a 64-bit little-endian ELF executable");
            }
            var programHeaders = ReadTable(file, elf, 0x20, 0x36, 0x38);
            var phSize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x36));
            var firstLoad = long.MaxValue;
            for (var at = 0; at + phSize <= programHeaders.Length; at += phSize)
            {
                var ph = programHeaders.AsSpan(at);
                if (BinaryPrimitives.ReadUInt32LittleEndian(ph) == LoadSegment)
                {
                    firstLoad = Math.Min(firstLoad, (long)BinaryPrimitives.ReadUInt64LittleEndian(ph[0x10..]) & ~0xFFFL);
                }
            }

            var sectionHeaders = ReadTable(file, elf, 0x28, 0x3A, 0x3C);
            var shSize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3A));
            var namesIndex = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3E));
            if (sectionHeaders.Length == 0 || (namesIndex + 1) * shSize > sectionHeaders.Length)
            {
                return new ExecutableImage(firstLoad, null);
            }
            var namesHeader = sectionHeaders.AsSpan(namesIndex * shSize);
            var names = new byte[checked((int)BinaryPrimitives.ReadUInt64LittleEndian(namesHeader[0x20..]))];
            RandomAccess.Read(file, names, (long)BinaryPrimitives.ReadUInt64LittleEndian(namesHeader[0x18..]));
            for (var at = 0; at + shSize <= sectionHeaders.Length; at += shSize)
            {
                var sh = sectionHeaders.AsSpan(at);
                var name = names.AsSpan((int)BinaryPrimitives.ReadUInt32LittleEndian(sh));
                if (name.StartsWith("__modules\0"u8))
                {
                    return new ExecutableImage(firstLoad,
                        ((long)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x10..]), (long)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x20..])));
                }
            }
            return new ExecutableImage(firstLoad, null);
        }

        /// <summary>A header table given the ELF header offsets of its file offset, entry size and entry count.</summary>
        private static byte[] ReadTable(Microsoft.Win32.SafeHandles.SafeFileHandle file, byte[] elf, int offsetAt, int entrySizeAt, int countAt)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(entrySizeAt)) * BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(countAt));
            var table = new byte[length];
            if (length > 0 && RandomAccess.Read(file, table, (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(offsetAt))) != length)
            {
                throw new FormatException("the executable's header tables are cut short");
            }
            return table;
        }
    }

    /// <summary>One line of /proc/self/smaps: a mapping and how many of its resident pages are private copies.</summary>
    private readonly record struct Mapping(long Start, long End, string Permissions, long Offset, string Path, long AnonymousKib)
    {
        public static List<Mapping> ReadOwn()
        {
            var mappings = new List<Mapping>();
            foreach (var line in File.ReadLines("/proc/self/smaps"))
            {
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 5 && fields[0].IndexOf('-') is var dash and > 0 && !fields[0].EndsWith(':'))
                {
                    mappings.Add(new Mapping(Hex(fields[0][..dash]), Hex(fields[0][(dash + 1)..]), fields[1], Hex(fields[2]), fields.Length == 6 ? fields[5].Trim() : "", 0));
                }
                else if (fields.Length >= 2 && fields[0] == "Anonymous:" && mappings.Count > 0)
                {
                    mappings[^1] = mappings[^1] with { AnonymousKib = long.Parse(fields[1], CultureInfo.InvariantCulture) };
                }
            }
            return mappings;
        }

        /// <summary>Where the executable was loaded: the start of its mapping at file offset 0, less the address its
        /// first segment asks for (0 for a position-independent executable).</summary>
        public static long? LoadBase(List<Mapping> mappings, string path, long firstLoadAddress)
        {
            foreach (var m in mappings)
            {
                if (m.Path == path && m.Offset == 0)
                {
                    return m.Start - firstLoadAddress;
                }
            }
            return null;
        }

        /// <summary>Whether [address, address + length) lies in one mapping of the executable (read before it is
        /// trusted).</summary>
        public static bool IsInExecutable(List<Mapping> mappings, string path, long address, long length)
        {
            foreach (var m in mappings)
            {
                if (m.Path == path && m.Start <= address && address + length <= m.End)
                {
                    return true;
                }
            }
            return false;
        }

        /// <summary>Null when every page of [start, end) lies in read-only mappings of the executable with no private
        /// page: the only memory where dropping pages cannot lose data.</summary>
        public static string? WhyNotReleasable(List<Mapping> mappings, long start, long end, string path)
        {
            var covered = start;
            foreach (var m in mappings) // in address order, as the kernel lists them
            {
                if (m.End <= covered || m.Start >= end)
                {
                    continue;
                }
                if (m.Start > covered || m.Path != path || m.Permissions.Contains('w') || m.AnonymousKib != 0)
                {
                    return $"the compressed type data is not wholly in a clean read-only mapping of the executable ({m.Start:x}-{m.End:x} {m.Permissions})";
                }
                covered = m.End;
            }
            return covered >= end ? null : "the compressed type data lies outside the executable's mappings";
        }

        private static long Hex(string text) => long.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MAdvise(nint address, nuint length, int advice);
}
