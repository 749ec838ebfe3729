using System.Buffers.Text;

namespace Tunnel.Runtime;

/// <summary>The process's anonymous resident memory (its heaps and stacks, not pages of files: only that is what a trim
/// can give back), from /proc/self/statm ("size resident shared ..." in pages: resident less shared): one small read,
/// no allocation, cheap enough to poll.</summary>
internal static class ResidentMemory
{
    /// <summary>Anonymous resident bytes, or 0 where /proc is not there to say.</summary>
    public static long AnonymousBytes()
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
        if (!Skip(ref text) || !Utf8Parser.TryParse(text, out long resident, out var used))
        {
            return 0;
        }

        text = text[used..];
        return Skip(ref text) && Utf8Parser.TryParse(text, out long shared, out _)
            ? Math.Max(0, resident - shared) * Environment.SystemPageSize
            : 0;
    }

    /// <summary>Moves past the next field and the space after it.</summary>
    private static bool Skip(ref Span<byte> text)
    {
        var space = text.IndexOf((byte)' ');
        if (space < 0)
        {
            return false;
        }

        text = text[(space + 1)..];
        return true;
    }
}
