namespace Tunnel.Config;

/// <summary>The process's open-file limit, which bounds how many connections it can hold.</summary>
internal static class FileDescriptorLimit
{
    /// <summary>File descriptors kept free for listeners, log files, certificate reloads and the admin endpoint.</summary>
    public const int Reserve = 64;

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

    /// <summary>Each relayed connection holds two descriptors (accepted and dialled socket).</summary>
    public static int DefaultMaxConnections() =>
        Current() is { } limit && limit > 2 * Reserve ? (limit - Reserve) / 2 : 10_000;
}
