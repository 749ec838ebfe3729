using System.Runtime.InteropServices;

namespace Tunnel.Runtime;

/// <summary>glibc's malloc_trim: returns the free memory at the top of the native heaps (OpenSSL's allocations) to
/// the kernel. Without it, memory freed when thousands of connections close stays in the process for good.</summary>
internal static class NativeMemory
{
    private static bool _unavailable;

    /// <summary>Trims; false where glibc is not the allocator (e.g. musl).</summary>
    public static bool Trim()
    {
        if (_unavailable || !OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return MallocTrim(0) == 1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallocTrim(nuint pad);
}
