namespace Tunnel.Tls;

/// <summary>Refuses private keys that other users can read, as ssh does.</summary>
internal static class KeyFilePermissions
{
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    public static void EnsurePrivate(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(path);
        if ((mode & GroupOrOther) != 0)
        {
            throw new CertificateLoadException(
                $"private key '{path}' is accessible by group or others (mode {Octal(mode)}); " +
                $"a key others can read must be treated as leaked. Fix: chmod 600 '{path}' (and chown it to the user the daemon runs as)");
        }
    }

    public static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');
}
