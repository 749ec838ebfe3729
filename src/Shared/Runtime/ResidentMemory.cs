using System.Buffers.Text;

namespace Tunnel.Runtime;

/// <summary>The process's resident memory, from /proc/self/statm ("size resident shared ..." in pages): one small read,
/// no allocation, cheap enough to poll (Environment.WorkingSet goes through a Process object on Linux).</summary>
internal static class ResidentMemory
{
    /// <summary>Resident bytes, or 0 where /proc is not there to say.</summary>
    public static long Bytes()
    {
        Span<byte> statm = stackalloc byte[128];
        int length;
        try
        {
            using var file = File.OpenHandle("/proc/self/statm");
            length = RandomAccess.Read(file, statm, 0);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        var text = statm[..length];
        var space = text.IndexOf((byte)' ');
        return space > 0 && Utf8Parser.TryParse(text[(space + 1)..], out long pages, out _)
            ? pages * Environment.SystemPageSize
            : 0;
    }
}
