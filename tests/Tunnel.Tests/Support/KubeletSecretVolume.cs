using System.Globalization;

namespace Tunnel.Tests.Support;

/// <summary>A Secret volume laid out and updated exactly as the kubelet's AtomicWriter does
/// (pkg/volume/util/atomic_writer.go): the files live in a timestamped folder <c>..2026_12_06_16_48_03.123456789</c>;
/// <c>..data</c> is a symlink to it; each key is a symlink <c>tls.crt -> ..data/tls.crt</c>. An update writes a new
/// timestamped folder, creates the symlink <c>..data_tmp</c> to it, renames that over <c>..data</c> (the one atomic
/// step), adds links for new keys, and removes the old folder.</summary>
internal sealed class KubeletSecretVolume
{
    private readonly UnixFileMode _mode;
    private int _generation;

    public KubeletSecretVolume(string directory, UnixFileMode mode)
    {
        Directory = directory;
        _mode = mode;
        System.IO.Directory.CreateDirectory(directory);
    }

    public string Directory { get; }

    public string PathOf(string key) => Path.Combine(Directory, key);

    /// <summary>Writes (first time) or swaps in (later) the Secret's data.</summary>
    public void Write(IReadOnlyDictionary<string, byte[]> data)
    {
        var dataLink = Path.Combine(Directory, "..data");
        var old = File.Exists(dataLink) || System.IO.Directory.Exists(dataLink) ? new FileInfo(dataLink).LinkTarget : null;

        // 1. the new payload in a fresh timestamped folder (the kubelet: os.MkdirTemp(dir, time.Now().Format(...)))
        var stamp = ".." + DateTime.UtcNow.ToString("yyyy_MM_dd_HH_mm_ss", CultureInfo.InvariantCulture) +
            "." + (++_generation).ToString("D9", CultureInfo.InvariantCulture);
        var folder = Path.Combine(Directory, stamp);
        System.IO.Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        foreach (var (key, bytes) in data)
        {
            var path = Path.Combine(folder, key);
            File.WriteAllBytes(path, bytes);
            File.SetUnixFileMode(path, _mode);
        }

        // 2. ..data_tmp -> the new folder, renamed over ..data: readers see the old set or the new one, never a mix.
        var tmpLink = Path.Combine(Directory, "..data_tmp");
        File.CreateSymbolicLink(tmpLink, stamp);
        if (Rename(tmpLink, dataLink) != 0)
        {
            throw new IOException($"rename {tmpLink} -> {dataLink} failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }

        // 3. the user-visible names, once: tls.crt -> ..data/tls.crt
        foreach (var key in data.Keys)
        {
            var visible = Path.Combine(Directory, key);
            if (new FileInfo(visible).LinkTarget is null)
            {
                File.CreateSymbolicLink(visible, Path.Combine("..data", key));
            }
        }

        // 4. the previous payload goes.
        if (old is not null)
        {
            System.IO.Directory.Delete(Path.Combine(Directory, old), recursive: true);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string from,
        [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string to);
}
