using System.Net;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Certs;

namespace Tunnel.Tests.Support;

/// <summary>A throw-away PKI made at test time: a root CA, a server certificate for "tunnel.test" and 127.0.0.1,
/// and client certificates, written as PEM into a temporary folder.</summary>
internal sealed class TestPki : IDisposable
{
    public TestPki(string? name = null)
    {
        Folder = Directory.CreateTempSubdirectory("tunnel-pki-").FullName;
        var now = DateTimeOffset.UtcNow;
        Root = CertificateFactory.Create(new CertificateSpec(CertificateKind.Root, name ?? "Tunnel Test Root", now.AddYears(-1), now.AddYears(1)));
        CaPath = Path.Combine(Folder, "ca.pem");
        PemFiles.WriteCertificates(CaPath, [Root], overwrite: true);
    }

    public string Folder { get; }

    public X509Certificate2 Root { get; }

    public string CaPath { get; }

    public (string Cert, string Key) IssueServer(string name = "tunnel.test", DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null) =>
        Issue(new CertificateSpec(CertificateKind.Server, name, notBefore ?? DateTimeOffset.UtcNow.AddHours(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(90))
        {
            DnsNames = [name, "localhost"],
            IpAddresses = [IPAddress.Loopback],
        });

    public (string Cert, string Key) IssueClient(string name = "site-a", DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, CertificateKind kind = CertificateKind.Client) =>
        Issue(new CertificateSpec(kind, name, notBefore ?? DateTimeOffset.UtcNow.AddHours(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(90)));

    public (string Cert, string Key) Issue(CertificateSpec spec)
    {
        using var certificate = CertificateFactory.Create(spec, Root);
        var stem = Path.Combine(Folder, $"{spec.CommonName}-{Guid.NewGuid():N}");
        PemFiles.WriteCertificates(stem + ".pem", [certificate], overwrite: true);
        PemFiles.WritePrivateKey(stem + ".key", certificate, overwrite: true);
        return (stem + ".pem", stem + ".key");
    }

    /// <summary>Writes a CRL signed by the root revoking the given certificates, as `certs crl` would.</summary>
    public string WriteCrl(IEnumerable<string> revokedCertificatePaths, string? path = null, DateTimeOffset? nextUpdate = null)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var certPath in revokedCertificatePaths)
        {
            using var revoked = X509Certificate2.CreateFromPem(File.ReadAllText(certPath));
            builder.AddEntry(revoked, DateTimeOffset.UtcNow.AddMinutes(-1), X509RevocationReason.KeyCompromise);
        }

        var crl = builder.Build(Root, ++_crlNumber, nextUpdate ?? DateTimeOffset.UtcNow.AddDays(7), System.Security.Cryptography.HashAlgorithmName.SHA256);
        path ??= Path.Combine(Folder, "crl.pem");
        File.WriteAllText(path, System.Security.Cryptography.PemEncoding.WriteString("X509 CRL", crl) + "\n");
        return path;
    }

    private int _crlNumber;

    public void Dispose()
    {
        Root.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
