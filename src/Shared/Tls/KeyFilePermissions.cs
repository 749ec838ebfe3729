using System.Runtime.InteropServices;

namespace Tunnel.Tls;

/// <summary>Refuses private keys that other users can read, as ssh does. One exception, PostgreSQL's rule for
/// <c>ssl_key_file</c>: a key owned by root may also be readable (not writable) by its group. That is how a Kubernetes
/// Secret volume hands a key to a non-root container: the kubelet writes the files as root, and with the pod's
/// <c>fsGroup</c> and <c>defaultMode: 0440</c> (or 0400) they end up root:fsGroup, mode 0440.</summary>
internal static class KeyFilePermissions
{
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private const UnixFileMode AllowedForRootOwned = UnixFileMode.GroupRead;

    public static void EnsurePrivate(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(path);
        if ((mode & GroupOrOther) == 0)
        {
            return;
        }

        if ((mode & GroupOrOther & ~AllowedForRootOwned) == 0 && OwnerOf(path) == 0)
        {
            return;
        }

        throw new CertificateLoadException(
            $"private key '{path}' is accessible by group or others (mode {Octal(mode)}); " +
            $"a key others can read must be treated as leaked. Fix: chmod 600 '{path}' (and chown it to the user the daemon runs as); " +
            "in Kubernetes, mount the Secret with defaultMode: 0440 and set the pod's securityContext.fsGroup to the daemon's group " +
            "(the kubelet's default 0644 lets every user read it)");
    }

    public static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    /// <summary>The owner's user id of the file a path resolves to (symlinks followed), or -1 if unknown.</summary>
    internal static long OwnerOf(string path)
    {
        // statx(2): one layout on every Linux architecture (stx_uid at offset 20), unlike struct stat.
        const int AtFdCwd = -100;
        const uint StatxUid = 0x8;
        var buffer = new byte[256];
        try
        {
            return Statx(AtFdCwd, path, 0, StatxUid, buffer) == 0 ? BitConverter.ToUInt32(buffer, 20) : -1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Statx(int directoryFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);
}
