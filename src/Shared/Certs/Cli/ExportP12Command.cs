using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Common;
using Tunnel.Tls;

namespace Tunnel.Certs.Cli;

/// <summary><c>certs export-p12 NAME</c>: certificate, key and chain in one password-protected file, for tools that
/// want PKCS#12 (the daemons' <c>pkcs12</c> setting, Windows, Java).</summary>
internal static class ExportP12Command
{
    public static async Task<int> RunAsync(ExportP12Options options, CertsContext context)
    {
        var name = CliValues.Name(options.Name);
        if ((options.PasswordEnv is null) == (options.PasswordFile is null))
        {
            throw CliValues.Usage("give exactly one of --password-env VAR or --password-file FILE: a PKCS#12 file holds a private key and is never written without a password");
        }

        var password = ReadPassword(options, context);
        using var folder = PkiFolder.Open(options.Directory(context), write: false);
        var entry = folder.Index.Current(name)
            ?? throw new CertsException($"no certificate named '{name}' in {folder.Layout.Directory}; `certs list` shows them");
        if (entry.Status == EntryStatus.Revoked)
        {
            throw new CertsException($"'{name}' (serial {entry.Serial}) is revoked; issue a new one before exporting it");
        }

        var output = options.Out ?? folder.Layout.Combine(PkiLayout.RelativePkcs12(name));
        PkiFolder.EnsureAbsent([output], options.Force, "not exported");

        var certificatePath = folder.Layout.Combine(entry.Certificate);
        var keyPath = folder.Layout.Combine(entry.Key ?? PkiLayout.RelativeKey(name));
        X509Certificate2 leaf;
        try
        {
            KeyFilePermissions.EnsurePrivate(keyPath);
            leaf = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (CertificateLoadException ex)
        {
            throw new CertsException(ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new CertsException($"cannot load '{name}' from {certificatePath} and {keyPath}: {ex.Message.TrimEnd('.')}");
        }

        using (leaf)
        using (var ca = folder.LoadCaCertificates())
        {
            var collection = new X509Certificate2Collection(leaf);
            if (ca.Intermediate is not null && string.Equals(entry.IssuerSerial, PkiFolder.SerialOf(ca.Intermediate), StringComparison.OrdinalIgnoreCase))
            {
                collection.Add(ca.Intermediate);
            }

            collection.Add(ca.Root);

            // PBES2 with AES-256 and SHA-256 (not the legacy 3DES/RC2 default): OpenSSL 3 reads it without the
            // legacy provider.
            var bytes = collection.ExportPkcs12(Pkcs12ExportPbeParameters.Pbes2Aes256Sha256, password);
            PemFiles.WriteBytes(output, bytes, PemFiles.PrivateMode, options.Force);
            await context.Out.WriteLineAsync($"wrote {output} ({KeyFilePermissions.Octal(PemFiles.PrivateMode)}): '{name}' (serial {entry.Serial}) with its key and {collection.Count - 1} CA certificate{(collection.Count == 2 ? "" : "s")}, " +
                $"AES-256 encrypted with the password from {(options.PasswordEnv is { } variable ? "$" + variable : options.PasswordFile)}");
        }

        return ExitCodes.Ok;
    }

    private static string ReadPassword(ExportP12Options options, CertsContext context)
    {
        string? password;
        if (options.PasswordEnv is { } variable)
        {
            password = context.Environment(variable);
            if (string.IsNullOrEmpty(password))
            {
                throw new CertsException($"environment variable {variable} (--password-env) is not set or empty; export it first");
            }

            return password;
        }

        try
        {
            password = File.ReadLines(options.PasswordFile!).FirstOrDefault();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CertsException($"cannot read --password-file {options.PasswordFile}: {ex.Message}");
        }

        return string.IsNullOrEmpty(password) ? throw new CertsException($"--password-file {options.PasswordFile} is empty; put the password on its first line") : password;
    }
}
