using System.Text.RegularExpressions;

namespace Tunnel.Tests.Certs;

/// <summary>What we write must satisfy OpenSSL, which stunnel, nginx, HAProxy and curl all use to judge it.</summary>
public sealed class OpenSslInteropTests : IDisposable
{
    private const int Timeout = 120_000;
    private readonly CertsSandbox _pki = new();

    public OpenSslInteropTests()
    {
        Assert.True(File.Exists("/usr/bin/openssl"), "these tests need OpenSSL: apt-get install openssl");
    }

    public void Dispose() => _pki.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task Openssl_verifies_leaves_issued_by_the_root_for_their_purpose_only()
    {
        await _pki.OkAsync("init-ca", "--org", "Acme");
        await _pki.OkAsync("issue", "server", "tunnel.local", "--dns", "tunnel.local", "--ip", "127.0.0.1");
        await _pki.OkAsync("issue", "client", "site-a");

        var server = await ExternalProcess.OpenSslAsync("verify", "-CAfile", _pki.PathOf("ca.pem"), "-purpose", "sslserver", _pki.PathOf("issued/tunnel.local.pem"));
        var client = await ExternalProcess.OpenSslAsync("verify", "-CAfile", _pki.PathOf("ca.pem"), "-purpose", "sslclient", _pki.PathOf("issued/site-a.pem"));
        var clientAsServer = await ExternalProcess.OpenSslAsync("verify", "-CAfile", _pki.PathOf("ca.pem"), "-purpose", "sslserver", _pki.PathOf("issued/site-a.pem"));
        var names = await ExternalProcess.OpenSslAsync("x509", "-in", _pki.PathOf("issued/tunnel.local.pem"), "-noout", "-ext", "subjectAltName", "-issuer");

        Assert.True(server.ExitCode == 0, server.ToString());
        Assert.Contains(": OK", server.Out);
        Assert.True(client.ExitCode == 0, client.ToString());
        Assert.NotEqual(0, clientAsServer.ExitCode);
        Assert.Contains("unsuitable certificate purpose", clientAsServer.Out + clientAsServer.Error);
        Assert.Contains("DNS:tunnel.local, IP Address:127.0.0.1", names.Out);
        Assert.Contains("issuer=O = Acme, CN = Tunnel Root CA", names.Out);
    }

    [Fact(Timeout = Timeout)]
    public async Task Openssl_reads_back_the_crl_distribution_point_of_issue_and_renew()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "server", "tunnel.local", "--crl-url", "http://pki.example.com/crl.pem,http://backup.example.com/crl.pem");
        await _pki.OkAsync("issue", "client", "site-a");

        var server = await ExternalProcess.OpenSslAsync("x509", "-in", _pki.PathOf("issued/tunnel.local.pem"), "-noout", "-ext", "crlDistributionPoints");
        var client = await ExternalProcess.OpenSslAsync("x509", "-in", _pki.PathOf("issued/site-a.pem"), "-noout", "-ext", "crlDistributionPoints");
        var verify = await ExternalProcess.OpenSslAsync("verify", "-CAfile", _pki.PathOf("ca.pem"), "-purpose", "sslserver", _pki.PathOf("issued/tunnel.local.pem"));

        Assert.True(server.ExitCode == 0, server.ToString());
        Assert.Contains("X509v3 CRL Distribution Points", server.Out);
        Assert.Contains("URI:http://pki.example.com/crl.pem", server.Out);
        Assert.Contains("URI:http://backup.example.com/crl.pem", server.Out);
        Assert.DoesNotContain("critical", server.Out);
        Assert.DoesNotContain("CRL Distribution Points", client.Out);
        Assert.True(verify.ExitCode == 0, verify.ToString());

        await _pki.OkAsync("renew", "tunnel.local");
        var renewed = await ExternalProcess.OpenSslAsync("x509", "-in", _pki.PathOf("issued/tunnel.local.pem"), "-noout", "-ext", "crlDistributionPoints");
        Assert.Contains("URI:http://pki.example.com/crl.pem", renewed.Out);
        Assert.Contains("URI:http://backup.example.com/crl.pem", renewed.Out);

        var bad = await _pki.RunAsync("issue", "client", "site-b", "--crl-url", "ftp://pki.example.com/crl.pem");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("is not an absolute http, https or ldap URL", bad.Error);
    }

    [Fact(Timeout = Timeout)]
    public async Task Openssl_verifies_leaves_through_the_intermediate_and_with_the_bundle_alone()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "server", "tunnel.local");
        await _pki.OkAsync("issue", "client", "site-a");

        var withUntrusted = await ExternalProcess.OpenSslAsync("verify", "-CAfile", _pki.PathOf("ca.pem"), "-untrusted", _pki.PathOf("intermediate.pem"),
            _pki.PathOf("issued/tunnel.local.pem"));
        var fromLeafFile = await ExternalProcess.OpenSslAsync("verify", "-CAfile", _pki.PathOf("ca.pem"), "-untrusted", _pki.PathOf("issued/site-a.pem"),
            _pki.PathOf("issued/site-a.pem"));
        var withBundle = await ExternalProcess.OpenSslAsync("verify", "-CAfile", _pki.PathOf("ca-bundle.pem"), _pki.PathOf("issued/site-a.pem"));
        var withoutIntermediate = await ExternalProcess.OpenSslAsync("verify", "-CAfile", _pki.PathOf("ca.pem"), _pki.PathOf("issued/site-a.pem"));

        Assert.True(withUntrusted.ExitCode == 0, withUntrusted.ToString());
        Assert.True(fromLeafFile.ExitCode == 0, "issued/NAME.pem carries the intermediate: " + fromLeafFile);
        Assert.True(withBundle.ExitCode == 0, withBundle.ToString());
        Assert.NotEqual(0, withoutIntermediate.ExitCode);
    }

    [Fact(Timeout = Timeout)]
    public async Task Openssl_parses_the_crl_and_rejects_the_revoked_client_while_accepting_the_others()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a");
        await _pki.OkAsync("issue", "client", "site-b");
        using var siteA = _pki.Load("issued/site-a.pem");
        await _pki.OkAsync("revoke", "site-a", "--reason", "keyCompromise");
        await _pki.OkAsync("crl");

        var text = await ExternalProcess.OpenSslAsync("crl", "-in", _pki.PathOf("crl.pem"), "-noout", "-text");
        var revoked = await VerifyWithCrlAsync("-crl_check", "issued/site-a.pem");
        var good = await VerifyWithCrlAsync("-crl_check", "issued/site-b.pem");

        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains($"Serial Number: {siteA.SerialNumber}", text.Out);
        Assert.Contains("Key Compromise", text.Out);
        Assert.Contains("X509v3 CRL Number", text.Out);
        Assert.NotEqual(0, revoked.ExitCode);
        Assert.Contains("certificate revoked", revoked.Out + revoked.Error);
        Assert.True(good.ExitCode == 0, good.ToString());
    }

    [Fact(Timeout = Timeout)]
    public async Task With_an_intermediate_both_crls_in_crl_pem_satisfy_a_full_chain_check()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "client", "site-a");
        await _pki.OkAsync("issue", "client", "site-b");
        using var siteA = _pki.Load("issued/site-a.pem");
        await _pki.OkAsync("revoke", siteA.SerialNumber, "--reason", "affiliationChanged");
        await _pki.OkAsync("crl");
        await _pki.OkAsync("crl");

        // -crl_check_all needs a current CRL from every CA in the chain: the intermediate's and the root's.
        var revoked = await VerifyWithCrlAsync("-crl_check_all", "issued/site-a.pem", "-untrusted", _pki.PathOf("intermediate.pem"));
        var good = await VerifyWithCrlAsync("-crl_check_all", "issued/site-b.pem", "-untrusted", _pki.PathOf("intermediate.pem"));
        var listing = await ExternalProcess.OpenSslAsync("storeutl", "-noout", "-text", "-crls", _pki.PathOf("crl.pem"));

        Assert.NotEqual(0, revoked.ExitCode);
        Assert.Contains("certificate revoked", revoked.Out + revoked.Error);
        Assert.True(good.ExitCode == 0, good.ToString());
        Assert.True(listing.ExitCode == 0, listing.ToString());
        Assert.Contains("Issuer: CN=Tunnel Intermediate CA", listing.Out);
        Assert.Contains("Issuer: CN=Tunnel Root CA", listing.Out);
        Assert.Contains("Total found: 2", listing.Out);
        Assert.Equal(2, Regex.Count(listing.Out, @"CRL Number:\s*\n\s*2\s*\n"));
    }

    [Fact(Timeout = Timeout)]
    public async Task Openssl_opens_the_pkcs12_with_its_password_and_finds_the_chain()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "server", "tunnel.local");
        _pki.Environment["P12_PASSWORD"] = "pa55 word";
        await _pki.OkAsync("export-p12", "tunnel.local", "--password-env", "P12_PASSWORD");
        var p12 = _pki.PathOf("private/tunnel.local.p12");

        var certificates = await ExternalProcess.OpenSslAsync("pkcs12", "-in", p12, "-passin", "pass:pa55 word", "-nokeys");
        var key = await ExternalProcess.OpenSslAsync("pkcs12", "-in", p12, "-passin", "pass:pa55 word", "-nocerts", "-noenc");
        var wrong = await ExternalProcess.OpenSslAsync("pkcs12", "-in", p12, "-passin", "pass:nope", "-nokeys");

        Assert.True(certificates.ExitCode == 0, certificates.ToString());
        Assert.Equal(3, certificates.Out.Split("-----BEGIN CERTIFICATE-----").Length - 1);
        Assert.Contains("CN = tunnel.local", certificates.Out);
        Assert.True(key.ExitCode == 0, key.ToString());
        Assert.Contains("-----BEGIN PRIVATE KEY-----", key.Out);
        Assert.NotEqual(0, wrong.ExitCode);
    }

    private Task<CliResult> VerifyWithCrlAsync(string mode, string leaf, params string[] extra) =>
        ExternalProcess.OpenSslAsync(["verify", mode, "-CAfile", _pki.PathOf("ca.pem"), "-CRLfile", _pki.PathOf("crl.pem"), .. extra, _pki.PathOf(leaf)]);
}
