using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Tunnel.Common;
using Tunnel.Tls;

namespace Tunnel.Certs;

/// <summary>An open state folder: its layout and index, and (for commands that change it) an exclusive lock so two
/// commands never interleave their writes. The index is the source of truth; it is replaced atomically.</summary>
internal sealed partial class PkiFolder : IDisposable
{
    private const UnixFileMode PrivateDirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly FileStream? _lock;

    private PkiFolder(PkiLayout layout, FileStream? lockFile, PkiIndex index)
    {
        Layout = layout;
        _lock = lockFile;
        Index = index;
    }

    public PkiLayout Layout { get; }

    /// <summary>The index as last loaded or saved by this command.</summary>
    public PkiIndex Index { get; private set; }

    /// <summary>Opens an initialized folder; with <paramref name="write"/>, takes the lock for the command's life.</summary>
    public static PkiFolder Open(string directory, bool write)
    {
        var layout = new PkiLayout(directory);
        if (!File.Exists(layout.Index))
        {
            throw File.Exists(layout.RootCertificate)
                ? new CertsException($"{layout.RootCertificate} exists but {layout.Index} does not: this folder was not made by `certs init-ca` (or the index was lost); start a new one with `certs init-ca --dir NEWDIR`")
                : new CertsException($"no CA in {directory}: run `certs init-ca` first (or point --dir or ${CertsDefaults.DirectoryVariable} at an existing state folder)");
        }

        CheckPrivateDirectory(layout);
        var lockFile = write ? TakeLock(layout) : null;
        try
        {
            return new PkiFolder(layout, lockFile, ReadIndex(layout));
        }
        catch
        {
            lockFile?.Dispose();
            throw;
        }
    }

    /// <summary>Creates the folder (and <c>private/</c>, mode 0700) if needed and takes the lock, for <c>init-ca</c>.
    /// An existing index is loaded so the caller can refuse to replace it without --force.</summary>
    public static PkiFolder Create(string directory)
    {
        var layout = new PkiLayout(directory);
        Directory.CreateDirectory(directory);
        CheckPrivateDirectory(layout);
        if (!OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(layout.Private, PrivateDirectoryMode);
        }
        else
        {
            Directory.CreateDirectory(layout.Private);
        }

        var lockFile = TakeLock(layout);
        try
        {
            var index = File.Exists(layout.Index) ? ReadIndex(layout) : new PkiIndex();
            return new PkiFolder(layout, lockFile, index);
        }
        catch (CertsException)
        {
            // A damaged index does not stop init-ca --force from starting over.
            return new PkiFolder(layout, lockFile, new PkiIndex());
        }
    }

    public void Save(PkiIndex index)
    {
        if (_lock is null)
        {
            throw new InvalidOperationException("the folder was opened read-only");
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(index, PkiJsonContext.Default.PkiIndex);
        PemFiles.WriteBytes(Layout.Index, [.. json, (byte)'\n'], PemFiles.PublicMode, overwrite: true);
        Index = index;
    }

    /// <summary>Loads the root and the intermediate (if any) with their private keys.</summary>
    public CertificateAuthority LoadAuthority() => CertificateAuthority.Load(Layout, withKeys: true);

    /// <summary>Loads the CA certificates only (no keys): enough to build chains.</summary>
    public CertificateAuthority LoadCaCertificates() => CertificateAuthority.Load(Layout, withKeys: false);

    /// <summary>Refuses a file that exists unless <paramref name="force"/>: nothing is ever overwritten silently.</summary>
    public static void EnsureAbsent(IEnumerable<string> paths, bool force, string what)
    {
        var existing = paths.Where(File.Exists).ToList();
        if (existing.Count > 0 && !force)
        {
            throw new CertsException($"{what}: {string.Join(", ", existing)} already exist{(existing.Count == 1 ? "s" : "")}; use --force to overwrite");
        }
    }

    public void Dispose() => _lock?.Dispose();

    private static PkiIndex ReadIndex(PkiLayout layout)
    {
        PkiIndex? index;
        try
        {
            index = JsonSerializer.Deserialize(File.ReadAllBytes(layout.Index), PkiJsonContext.Default.PkiIndex);
        }
        catch (JsonException ex)
        {
            throw new CertsException($"{layout.Index} is not a valid index ({ex.Message}); restore it from a backup");
        }

        if (index is null)
        {
            throw new CertsException($"{layout.Index} is empty; restore it from a backup");
        }

        if (index.Version > PkiIndex.CurrentVersion)
        {
            throw new CertsException($"{layout.Index} was written by a newer version (format {index.Version}); use that version");
        }

        return index;
    }

    /// <summary>Private keys are only as safe as the folder that holds them; a readable <c>private/</c> means they may
    /// already have leaked, so we refuse rather than add more keys to it.</summary>
    private static void CheckPrivateDirectory(PkiLayout layout)
    {
        if (OperatingSystem.IsWindows() || !Directory.Exists(layout.Private))
        {
            return;
        }

        var mode = File.GetUnixFileMode(layout.Private);
        if ((mode & GroupOrOther) != 0)
        {
            throw new CertsException(
                $"{layout.Private} is accessible by group or others (mode {KeyFilePermissions.Octal(mode)}); the keys in it may have leaked. " +
                $"Fix: chmod 700 '{layout.Private}', and consider the keys in it compromised if others could read them");
        }
    }

    private static FileStream TakeLock(PkiLayout layout)
    {
        try
        {
            // FileShare.None takes an advisory flock on Unix: a second certs command on the same folder fails here
            // instead of interleaving its index update with ours.
            return new FileStream(layout.Lock, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new CertsException($"another certs command is working on {layout.Directory}; try again when it has finished", ExitCodes.Failure);
        }
    }

    /// <summary>Status as <c>list</c> shows it.</summary>
    public static CertificateStatus StatusOf(IndexEntry entry, DateTimeOffset now) =>
        entry.Status == EntryStatus.Revoked ? CertificateStatus.Revoked
        : entry.NotAfter <= now ? CertificateStatus.Expired
        : CertificateStatus.Valid;

    internal static string SerialOf(X509Certificate2 certificate) => certificate.SerialNumber.ToUpperInvariant();
}
