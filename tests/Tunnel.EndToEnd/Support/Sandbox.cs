using System.Text;

namespace Tunnel.EndToEnd.Support;

/// <summary>A temporary folder for one test's configuration files, logs, pid files and caches. It is traversable by
/// other users because Squid drops privileges to 'proxy'; set TUNNEL_E2E_KEEP=1 to keep it for inspection.</summary>
internal sealed class Sandbox : IDisposable
{
    private const UnixFileMode Traversable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode WorldWritable = Traversable | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    public Sandbox(string name)
    {
        Root = Directory.CreateTempSubdirectory($"tunnel-e2e-{name}-").FullName;
        File.SetUnixFileMode(Root, Traversable);
    }

    private int _files;

    public string Root { get; }

    public string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>Creates a sub-folder; <paramref name="writableByAll"/> for daemons that run as another user.</summary>
    public string Folder(string name, bool writableByAll = false)
    {
        var path = Path(name);
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, writableByAll ? WorldWritable : Traversable);
        return path;
    }

    /// <summary>A path not used before in this sandbox, e.g. "curl-3.body".</summary>
    public string NewPath(string prefix, string extension) =>
        Path($"{prefix}-{Interlocked.Increment(ref _files)}.{extension}");

    public string WriteText(string relativePath, string content)
    {
        var path = Path(relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("TUNNEL_E2E_KEEP") == "1")
        {
            return;
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A daemon killed a moment ago may still be writing; /tmp is cleaned eventually.
        }
    }
}
