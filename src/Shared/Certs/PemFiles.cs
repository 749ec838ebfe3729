using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Tunnel.Certs;

/// <summary>Writes certificates and keys as PEM. Keys are created with mode 0600 from the start (never written and
/// then chmod-ed), and nothing is overwritten unless asked.</summary>
internal static class PemFiles
{
    public const UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode PublicMode = PrivateMode | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public static string Certificates(IEnumerable<X509Certificate2> certificates)
    {
        var builder = new StringBuilder();
        foreach (var certificate in certificates)
        {
            builder.Append(certificate.ExportCertificatePem()).Append('\n');
        }

        return builder.ToString();
    }

    public static string PrivateKey(X509Certificate2 certificate)
    {
        using var key = (AsymmetricAlgorithm?)certificate.GetECDsaPrivateKey() ?? certificate.GetRSAPrivateKey()
            ?? throw new InvalidOperationException("certificate has no private key");
        return key.ExportPkcs8PrivateKeyPem() + "\n";
    }

    public static void WriteCertificates(string path, IEnumerable<X509Certificate2> certificates, bool overwrite) =>
        Write(path, Certificates(certificates), PublicMode, overwrite);

    public static void WritePrivateKey(string path, X509Certificate2 certificate, bool overwrite) =>
        Write(path, PrivateKey(certificate), PrivateMode, overwrite);

    public static void Write(string path, string content, UnixFileMode mode, bool overwrite) =>
        WriteBytes(path, new UTF8Encoding(false).GetBytes(content), mode, overwrite);

    /// <summary>Writes a new file with <paramref name="mode"/> from its creation. Without <paramref name="overwrite"/>
    /// an existing file is an error (<see cref="IOException"/>); with it, the content goes to a fresh temporary file
    /// that is renamed over the old one, so a reader (a daemon reloading on SIGHUP) never sees half a file and a key
    /// never lands in an old file whose mode was wider.</summary>
    public static void WriteBytes(string path, byte[] content, UnixFileMode mode, bool overwrite)
    {
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        if (!overwrite)
        {
            WriteNew(fullPath, content, mode);
            return;
        }

        var temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            WriteNew(temporary, content, mode);
            File.Move(temporary, fullPath, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static void WriteNew(string path, byte[] content, UnixFileMode mode)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        using (var stream = new FileStream(path, options))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        if (!OperatingSystem.IsWindows())
        {
            // The umask may have narrowed the creation mode; certificates must stay readable by the daemons.
            File.SetUnixFileMode(path, mode);
        }
    }
}
