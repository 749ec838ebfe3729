using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Certs;

/// <summary>Issuing leaves, and moving aside the certificate a new one replaces.</summary>
internal sealed partial class PkiFolder
{
    private const UnixFileMode PublicDirectoryMode = PrivateDirectoryMode | UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Signs <paramref name="spec"/> with the issuing CA and writes <c>issued/NAME.pem</c> (leaf, then the
    /// intermediate) and <c>private/NAME.key</c>. A <paramref name="replacing"/> entry is marked superseded by the new
    /// serial (and revoked as superseded if <paramref name="revokeReplaced"/>) and its files move to <c>renewed/</c>,
    /// so the name's files always hold its newest certificate and no earlier one is lost.</summary>
    public IssuedLeaf IssueLeaf(CertificateAuthority ca, CertificateSpec spec, IndexEntry? replacing, bool overwriteFiles, bool revokeReplaced, DateTimeOffset now)
    {
        var name = spec.CommonName;
        var certificateFile = PkiLayout.RelativeCertificate(name);
        var keyFile = PkiLayout.RelativeKey(name);
        var certificate = CertificateFactory.Create(spec, ca.Issuing);
        try
        {
            var serial = SerialOf(certificate);
            var index = Index;
            IndexEntry? replaced = null;
            if (replacing is not null)
            {
                replaced = Archive(replacing) with { SupersededBy = serial };
                if (revokeReplaced && replaced.Status != EntryStatus.Revoked)
                {
                    replaced = replaced with { Status = EntryStatus.Revoked, RevokedAt = now, Reason = X509RevocationReason.Superseded };
                }

                index = index.Replace(replacing, replaced);
            }

            PemFiles.WriteCertificates(Layout.Combine(certificateFile), [certificate, .. ca.ChainBelowRoot], overwriteFiles);
            PemFiles.WritePrivateKey(Layout.Combine(keyFile), certificate, overwriteFiles);
            var entry = new IndexEntry
            {
                Serial = serial,
                Name = name,
                Kind = spec.Kind,
                Subject = certificate.Subject,
                IssuerSerial = SerialOf(ca.Issuing),
                NotBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero),
                NotAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero),
                Certificate = certificateFile,
                Key = keyFile,
                Replaces = replacing?.Serial,
            };
            Save(index.Add(entry));
            return new IssuedLeaf(entry, certificate, replaced);
        }
        catch
        {
            certificate.Dispose();
            throw;
        }
    }

    /// <summary>Moves an entry's files to <c>renewed/</c> (certificate) and <c>private/renewed/</c> (key).</summary>
    private IndexEntry Archive(IndexEntry entry)
    {
        var certificate = entry.Certificate;
        var key = entry.Key;
        var archivedCertificate = PkiLayout.RelativeArchivedCertificate(entry.Name, entry.Serial);
        if (File.Exists(Layout.Combine(certificate)) && certificate != archivedCertificate)
        {
            CreateDirectory(Path.GetDirectoryName(Layout.Combine(archivedCertificate))!, PublicDirectoryMode);
            File.Move(Layout.Combine(certificate), Layout.Combine(archivedCertificate), overwrite: false);
            certificate = archivedCertificate;
        }

        var archivedKey = PkiLayout.RelativeArchivedKey(entry.Name, entry.Serial);
        if (key is not null && File.Exists(Layout.Combine(key)) && key != archivedKey)
        {
            CreateDirectory(Path.GetDirectoryName(Layout.Combine(archivedKey))!, PrivateDirectoryMode);
            File.Move(Layout.Combine(key), Layout.Combine(archivedKey), overwrite: false);
            key = archivedKey;
        }

        return entry with { Certificate = certificate, Key = key };
    }

    private static void CreateDirectory(string path, UnixFileMode mode)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, mode);
        }
    }
}
