using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Tunnel.Certs;

/// <summary>Writes certificates and keys as PEM. Keys are created with mode 0600 from the start (never written and
/// then chmod-ed), and nothing is overwritten unless asked.</summary>
internal static class PemFiles
{
    private const UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PublicMode = PrivateMode | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public static string Certificates(IEnumerable<X509Certificate2> certificates)
    {
        var builder = new StringBuilder();
        foreach (var certificate in certificates)
        {
            builder.Append(certificate.ExportCertificatePem()).Append('\n');
        }

        return builder.ToString();
    }

    public static string PrivateKey(X509Certificate2 certificate) =>
        (certificate.GetECDsaPrivateKey() as AsymmetricAlgorithm ?? certificate.GetRSAPrivateKey()
            ?? throw new InvalidOperationException("certificate has no private key")).ExportPkcs8PrivateKeyPem() + "\n";

    public static void WriteCertificates(string path, IEnumerable<X509Certificate2> certificates, bool overwrite) =>
        Write(path, Certificates(certificates), PublicMode, overwrite);

    public static void WritePrivateKey(string path, X509Certificate2 certificate, bool overwrite) =>
        Write(path, PrivateKey(certificate), PrivateMode, overwrite);

    public static void Write(string path, string content, UnixFileMode mode, bool overwrite)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        var options = new FileStreamOptions
        {
            Mode = overwrite ? FileMode.Create : FileMode.CreateNew,
            Access = FileAccess.Write,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
        {
            writer.Write(content);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }
}
