using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Tests.Support;
using Tunnel.Tls;

namespace Tunnel.Tests.Tls;

public sealed class RevocationCheckerTests : IDisposable
{
    private readonly TestPki _pki = new();

    [Fact]
    public void Reads_the_revoked_serials_and_dates_of_a_crl_built_by_dotnet()
    {
        var revoked = _pki.IssueClient("gone");
        var path = _pki.WriteCrl([revoked.Cert], nextUpdate: DateTimeOffset.UtcNow.AddDays(3));

        var checker = RevocationChecker.Load(path, TrustBundle.Load(_pki.CaPath));

        var crl = Assert.Single(checker.Lists);
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(revoked.Cert));
        Assert.Contains(RevokedSerials.Canonical(certificate.SerialNumber), crl.Revoked);
        Assert.Equal(_pki.Root.SubjectName.Name, crl.Issuer.Name);
        Assert.InRange(checker.NextUpdate!.Value, DateTimeOffset.UtcNow.AddDays(2.9), DateTimeOffset.UtcNow.AddDays(3.1));
    }

    [Fact]
    public void A_crl_whose_signature_was_tampered_with_is_refused()
    {
        var path = _pki.WriteCrl([_pki.IssueClient("x").Cert]);
        var der = PemEncoding.Find(File.ReadAllText(path)) is var fields
            ? Convert.FromBase64String(File.ReadAllText(path)[fields.Base64Data])
            : [];
        der[^5] ^= 0xFF;
        File.WriteAllBytes(path, der);

        var error = Assert.Throws<CertificateLoadException>(() => RevocationChecker.Load(path, TrustBundle.Load(_pki.CaPath)));
        Assert.Contains("invalid signature", error.Message);
    }

    [Fact]
    public void A_crl_from_a_ca_outside_the_bundle_is_refused()
    {
        using var other = new TestPki("Unrelated Root");
        var path = other.WriteCrl([]);

        var error = Assert.Throws<CertificateLoadException>(() => RevocationChecker.Load(path, TrustBundle.Load(_pki.CaPath)));
        Assert.Contains("not in the CA bundle", error.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task Reads_a_crl_made_by_openssl_ca()
    {
        // Operators migrating from an openssl-run CA bring CRLs made by `openssl ca -gencrl`.
        var dir = Directory.CreateTempSubdirectory("openssl-ca-").FullName;
        var rootKey = Path.Combine(dir, "root.key");
        File.WriteAllText(rootKey, _pki.Root.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var revoked = _pki.IssueClient("openssl-revoked");
        using var revokedCert = X509Certificate2.CreateFromPem(File.ReadAllText(revoked.Cert));
        File.WriteAllText(Path.Combine(dir, "index.txt"),
            $"R\t{revokedCert.NotAfter.ToUniversalTime():yyMMddHHmmss}Z\t{DateTime.UtcNow.AddMinutes(-5):yyMMddHHmmss}Z\t{revokedCert.SerialNumber}\tunknown\t/CN=openssl-revoked\n");
        File.WriteAllText(Path.Combine(dir, "ca.cnf"), $"""
            [ ca ]
            default_ca = local
            [ local ]
            database = {dir}/index.txt
            crlnumber = {dir}/crlnumber
            default_md = sha256
            default_crl_days = 7
            """);
        File.WriteAllText(Path.Combine(dir, "crlnumber"), "01\n");
        var crlPath = Path.Combine(dir, "crl.pem");

        await RunAsync("openssl", $"ca -config {dir}/ca.cnf -gencrl -keyfile {rootKey} -cert {_pki.CaPath} -out {crlPath}");

        var checker = RevocationChecker.Load(crlPath, TrustBundle.Load(_pki.CaPath));
        Assert.Contains(RevokedSerials.Canonical(revokedCert.SerialNumber), Assert.Single(checker.Lists).Revoked);
        Directory.Delete(dir, recursive: true);
    }

    [Theory]
    [InlineData("00ABCD", "ABCD")]
    [InlineData("abcd", "ABCD")]
    [InlineData("0", "00")]
    public void Serials_compare_in_one_canonical_form(string input, string expected) =>
        Assert.Equal(expected, RevokedSerials.Canonical(input));

    private static async Task RunAsync(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(process.ExitCode == 0, $"{file} {arguments} failed: {await stderr}");
    }

    public void Dispose() => _pki.Dispose();
}
