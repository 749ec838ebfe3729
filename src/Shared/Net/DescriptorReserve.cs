using Microsoft.Win32.SafeHandles;
using Tunnel.Common;

namespace Tunnel.Net;

/// <summary>A few descriptors held open on /dev/null for the process's own needs when it runs out. The .NET runtime
/// opens files to start a thread (/proc/self/status, /sys/devices/system/cpu/possible) or load an assembly, and aborts
/// with "Out of memory." when it cannot, which a burst of completions right after an EMFILE (connections closing at
/// once, each needing a thread) makes likely. So when accept() fails with EMFILE the reserve is given back, and the
/// listeners accept again only once they can take it back: connections never take the last descriptors.</summary>
internal static class DescriptorReserve
{
    /// <summary>Descriptors held; counted in the default connection limit.</summary>
    public const int Size = FileDescriptorLimit.ListenerReserve;

    private const string Device = "/dev/null";

    private static readonly Lock Gate = new();
    private static List<SafeFileHandle>? _held;
    private static bool _unavailable;

    /// <summary>True when the reserve is held, taking it back first if it was given up; false while the process cannot
    /// open that many more descriptors. Always true where there is no /dev/null to hold (nothing to give back).</summary>
    public static bool TryHold()
    {
        if (Volatile.Read(ref _held) is not null || Volatile.Read(ref _unavailable))
        {
            return true;
        }

        lock (Gate)
        {
            if (_held is not null || _unavailable)
            {
                return true;
            }

            var taken = new List<SafeFileHandle>(Size);
            try
            {
                for (var i = 0; i < Size; i++)
                {
                    taken.Add(File.OpenHandle(Device, FileMode.Open, FileAccess.Read));
                }

                Volatile.Write(ref _held, taken);
                return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                foreach (var handle in taken)
                {
                    handle.Dispose();
                }

                if (ex is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
                {
                    Volatile.Write(ref _unavailable, true);
                    return true;
                }

                return false;
            }
        }
    }

    /// <summary>Gives the reserve back (the process just ran out of descriptors).</summary>
    public static void Release()
    {
        lock (Gate)
        {
            foreach (var handle in _held ?? [])
            {
                handle.Dispose();
            }

            Volatile.Write(ref _held, null);
        }
    }
}
