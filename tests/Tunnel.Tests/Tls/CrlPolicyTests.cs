using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Tunnel.Certs;
using Tunnel.Server.Tls;
using Tunnel.Tests.Support;
using Tunnel.Tls;

namespace Tunnel.Tests.Tls;

/// <summary>RFC 5280 CRL rules at the level of the server's verdict on a client certificate, with CRLs made by
/// <c>openssl ca</c>: delta CRLs on top of their base, IssuingDistributionPoint scopes, critical extensions, signature
/// algorithms, dates; and what a reload does with a CRL file that breaks a rule (the previous CRLs stay in force).
/// Where OpenSSL has an opinion (<c>openssl verify -crl_check -use_deltas</c>), it is the oracle.</summary>
public sealed class CrlPolicyTests : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly OpenSslCa _ca;
    private readonly string _crlPath;
    private readonly (string Cert, string Key) _a;
    private readonly (string Cert, string Key) _b;
    private readonly (string Cert, string Key) _c;

    public CrlPolicyTests()
    {
        _ca = new OpenSslCa(_pki);
        _crlPath = Path.Combine(_pki.Folder, "crl.pem");
        _a = _pki.IssueClient("site-a");
        _b = _pki.IssueClient("site-b");
        _c = _pki.IssueClient("site-c");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_delta_crl_adds_to_its_base_and_never_replaces_it_as_openssl_judges_too()
    {
        _ca.Revoke(_a.Cert);
        // FreshestCRL tells OpenSSL (the oracle below) to look for deltas; Tunnel applies one whenever it is in the file.
        _ca.AddSection("complete", "freshestCRL = URI:http://pki.tunnel.test/delta.crl");
        // lastUpdate a minute back: the delta is always strictly newer, never by chance within the same second.
        var complete = await _ca.GenerateCrlAsync("complete",
            $"-crl_lastupdate {DateTime.UtcNow.AddMinutes(-1):yyyyMMddHHmmss}Z"); // number 1: A
        _ca.Revoke(_b.Cert);
        _ca.Forget(_a.Cert); // a delta lists only what changed since its base
        _ca.AddSection("delta", "2.5.29.27 = critical, ASN1:INTEGER:1");
        var delta = await _ca.GenerateCrlAsync("delta"); // number 2, base 1: B

        // The delta is newer: a reader keeping the newest CRL per issuer would un-revoke A. Either order in the file.
        foreach (var content in new[] { complete + delta, delta + complete })
        {
            File.WriteAllText(_crlPath, content);
            var state = Load();
            Assert.Equal(PeerProblem.Revoked, Verdict(state, _a).Problem);
            Assert.Contains("CRL number 1 of", Verdict(state, _a).Reason);
            Assert.Equal(PeerProblem.Revoked, Verdict(state, _b).Problem);
            Assert.Contains("delta CRL number 2 (base 1)", Verdict(state, _b).Reason);
            Assert.True(Verdict(state, _c).Ok, Verdict(state, _c).Reason);
        }

        File.WriteAllText(Path.Combine(_pki.Folder, "base.pem"), complete);
        File.WriteAllText(Path.Combine(_pki.Folder, "delta.pem"), delta);
        Assert.Contains("revoked", await OpenSslVerifyAsync(_a.Cert));
        Assert.Contains("revoked", await OpenSslVerifyAsync(_b.Cert));
        Assert.EndsWith("OK", (await OpenSslVerifyAsync(_c.Cert)).Trim());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_delta_crl_releases_a_certificate_on_hold_with_remove_from_crl()
    {
        _ca.Revoke(_a.Cert, "certificateHold");
        _ca.Revoke(_b.Cert);
        var complete = await _ca.GenerateCrlAsync();
        _ca.Forget(_b.Cert);
        _ca.Revoke(_a.Cert, "removeFromCRL");
        _ca.AddSection("delta", "2.5.29.27 = critical, ASN1:INTEGER:1");
        File.WriteAllText(_crlPath, complete);
        var onHold = Load();
        Assert.Equal(PeerProblem.Revoked, Verdict(onHold, _a).Problem);

        File.WriteAllText(_crlPath, complete + await _ca.GenerateCrlAsync("delta"));
        var released = Load();
        Assert.True(Verdict(released, _a).Ok, Verdict(released, _a).Reason);
        Assert.Equal(PeerProblem.Revoked, Verdict(released, _b).Problem);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_delta_without_its_base_or_for_a_newer_base_is_refused_and_a_reload_keeps_the_previous_crl()
    {
        _ca.Revoke(_a.Cert);
        var complete = await _ca.GenerateCrlAsync(); // number 1
        File.WriteAllText(_crlPath, complete);
        var tls = new Reloadable<ServerTlsState>("test", Load, NullLogger.Instance);
        Assert.Equal(PeerProblem.Revoked, Verdict(tls.Current, _a).Problem);

        _ca.Forget(_a.Cert);
        _ca.AddSection("delta", "2.5.29.27 = critical, ASN1:INTEGER:1");
        var alone = await _ca.GenerateCrlAsync("delta");
        File.WriteAllText(_crlPath, alone);
        var error = Assert.Throws<CertificateLoadException>(Load);
        Assert.Contains("has no complete CRL of the same issuer and scope", error.Message);
        Assert.False(tls.Reload());
        Assert.Equal(PeerProblem.Revoked, Verdict(tls.Current, _a).Problem);

        _ca.AddSection("delta5", "2.5.29.27 = critical, ASN1:INTEGER:5");
        File.WriteAllText(_crlPath, complete + await _ca.GenerateCrlAsync("delta5"));
        error = Assert.Throws<CertificateLoadException>(Load);
        Assert.Contains("updates complete CRL number 5 or later, but the newest complete CRL in the file is number 1", error.Message);
        Assert.False(tls.Reload());
        Assert.Equal(PeerProblem.Revoked, Verdict(tls.Current, _a).Problem);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_crl_with_an_unknown_critical_extension_is_refused_and_a_non_critical_one_is_not()
    {
        _ca.Revoke(_a.Cert);
        _ca.AddSection("critical", "1.2.3.4.5 = critical, ASN1:UTF8String:must-understand");
        _ca.AddSection("informational", "1.2.3.4.5 = ASN1:UTF8String:may-ignore");
        File.WriteAllText(_crlPath, await _ca.GenerateCrlAsync("critical"));

        var error = Assert.Throws<CertificateLoadException>(Load);
        Assert.Contains("critical extension 1.2.3.4.5", error.Message);
        Assert.Contains("RFC 5280 §5.2", error.Message);
        // OpenSSL, as the oracle, will not use it either, even for a certificate it does not list.
        var openssl = await OpenSslCa.TryRunAsync("openssl", $"verify -crl_check -CAfile {_pki.CaPath} -CRLfile {_crlPath} {_b.Cert}");
        Assert.NotEqual(0, openssl.ExitCode);
        Assert.Contains("unhandled critical CRL extension", openssl.Output);

        File.WriteAllText(_crlPath, await _ca.GenerateCrlAsync("informational"));
        var state = Load();
        Assert.Equal(PeerProblem.Revoked, Verdict(state, _a).Problem);
        Assert.True(Verdict(state, _b).Ok);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_crl_whose_outer_signature_algorithm_differs_from_the_inner_one_is_refused()
    {
        _ca.Revoke(_a.Cert);
        var der = PemToDer(await _ca.GenerateCrlAsync());
        // ecdsa-with-SHA256 (1.2.840.10045.4.3.2) appears twice: inside the signed part, then outside it. Make the
        // outer one ecdsa-with-SHA384.
        byte[] oid = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
        var outer = der.AsSpan().LastIndexOf(oid);
        Assert.True(outer > der.AsSpan().IndexOf(oid), "the CRL should name its algorithm twice");
        der[outer + oid.Length - 1] = 0x03;
        File.WriteAllBytes(_crlPath, der);

        var error = Assert.Throws<CertificateLoadException>(Load);
        Assert.Contains("differs from the one inside the signed part", error.Message);
        Assert.Contains("1.2.840.10045.4.3.3", error.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_issuing_distribution_point_limits_which_certificates_a_crl_speaks_for()
    {
        const string url = "http://pki.tunnel.test/users.crl";
        var listed = _pki.Issue(new CertificateSpec(CertificateKind.Client, "listed", DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1))
        {
            CrlDistributionPoints = [new Uri(url)],
        });
        _ca.Revoke(_a.Cert);
        _ca.AddSection("users", "issuingDistributionPoint = critical, @users_idp");
        _ca.AddSection("users_idp", "onlyuser = TRUE");
        _ca.AddSection("cas", "issuingDistributionPoint = critical, @cas_idp");
        _ca.AddSection("cas_idp", "onlyCA = TRUE");
        _ca.AddSection("point", "issuingDistributionPoint = critical, @point_idp");
        _ca.AddSection("point_idp", $"fullname = URI:{url}\nonlyuser = TRUE");
        _ca.AddSection("indirect", "issuingDistributionPoint = critical, @indirect_idp");
        _ca.AddSection("indirect_idp", "indirectCRL = TRUE");

        File.WriteAllText(_crlPath, await _ca.GenerateCrlAsync("users"));
        var users = Load();
        Assert.Equal(PeerProblem.Revoked, Verdict(users, _a).Problem);
        Assert.True(Verdict(users, _b).Ok, Verdict(users, _b).Reason);

        // A CRL of CA certificates only says nothing about clients: refused as uncovered, as with no CRL at all.
        File.WriteAllText(_crlPath, await _ca.GenerateCrlAsync("cas"));
        var cas = Load();
        Assert.Equal(PeerProblem.Revoked, Verdict(cas, _b).Problem);
        Assert.Contains("no CRL in", Verdict(cas, _b).Reason);
        Assert.Contains("only CA certificates", Verdict(cas, _b).Reason);

        // Partitioned by distribution point: it covers the certificate that names it, not one that names none.
        File.WriteAllText(_crlPath, await _ca.GenerateCrlAsync("point"));
        var point = Load();
        Assert.True(Verdict(point, listed).Ok, Verdict(point, listed).Reason);
        Assert.Equal(PeerProblem.Revoked, Verdict(point, _b).Problem);
        Assert.Contains(url, Verdict(point, _b).Reason);

        File.WriteAllText(_crlPath, await _ca.GenerateCrlAsync("indirect"));
        Assert.Contains("indirect CRL", Assert.Throws<CertificateLoadException>(Load).Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_crl_past_its_next_update_still_revokes_and_one_from_the_future_is_refused()
    {
        _ca.Revoke(_a.Cert);
        var past = DateTime.UtcNow.AddDays(-3);
        File.WriteAllText(_crlPath, await _ca.GenerateCrlAsync(extraArguments:
            $"-crl_lastupdate {past:yyyyMMddHHmmss}Z -crl_nextupdate {past.AddDays(1):yyyyMMddHHmmss}Z"));
        var stale = Load();
        Assert.Equal(PeerProblem.Revoked, Verdict(stale, _a).Problem);
        Assert.True(Verdict(stale, _b).Ok, Verdict(stale, _b).Reason);
        Assert.True(stale.Revocation!.NextUpdate < DateTimeOffset.UtcNow);
        var logs = new LogCollector();
        ExpiryWarnings.Check(logs.CreateLogger("t"), "t", null, null, stale.Revocation, TimeSpan.FromDays(30), DateTimeOffset.UtcNow);
        Assert.True(logs.Contains("was due for renewal on"), "a stale CRL is logged");

        var ahead = DateTime.UtcNow.AddHours(1);
        File.WriteAllText(_crlPath, await _ca.GenerateCrlAsync(extraArguments:
            $"-crl_lastupdate {ahead:yyyyMMddHHmmss}Z -crl_nextupdate {ahead.AddDays(7):yyyyMMddHHmmss}Z"));
        Assert.Contains("is not valid yet", Assert.Throws<CertificateLoadException>(Load).Message);

        var slightlyAhead = DateTime.UtcNow.AddMinutes(2); // within the clock skew allowed
        File.WriteAllText(_crlPath, await _ca.GenerateCrlAsync(extraArguments:
            $"-crl_lastupdate {slightlyAhead:yyyyMMddHHmmss}Z -crl_nextupdate {slightlyAhead.AddDays(7):yyyyMMddHHmmss}Z"));
        Assert.Equal(PeerProblem.Revoked, Verdict(Load(), _a).Problem);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_remove_from_crl_entry_in_a_complete_crl_is_refused()
    {
        _ca.Revoke(_a.Cert, "removeFromCRL");
        File.WriteAllText(_crlPath, await _ca.GenerateCrlAsync());
        Assert.Contains("only a delta CRL may carry", Assert.Throws<CertificateLoadException>(Load).Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_malformed_crl_is_refused_as_malformed_whatever_breaks()
    {
        _ca.Revoke(_a.Cert);
        var der = PemToDer(await _ca.GenerateCrlAsync());
        byte[][] broken =
        [
            [0x30, 0x03, 0x02, 0x01, 0x01],      // a SEQUENCE holding an INTEGER, not a CRL
            der[..(der.Length / 2)],             // truncated
            [0x30, 0x80, 0x00, 0x00],            // indefinite length (BER)
        ];
        foreach (var bytes in broken)
        {
            File.WriteAllBytes(_crlPath, bytes);
            var error = Assert.Throws<CertificateLoadException>(Load);
            Assert.Contains("malformed", error.Message);
        }

        File.WriteAllText(_crlPath, "-----BEGIN X509 CRL-----\n!!!not base64!!!\n-----END X509 CRL-----\n");
        Assert.IsType<CertificateLoadException>(Record.Exception(Load));
    }

    private ServerTlsState Load()
    {
        var server = _pki.IssueServer();
        var options = TestOptions.Server(new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["upstreams"] = "127.0.0.1:9",
            ["cert"] = server.Cert,
            ["key"] = server.Key,
            ["ca"] = _pki.CaPath,
            ["crl"] = _crlPath,
        });
        return ServerTlsState.Load(options.Tunnels[0], TimeProvider.System);
    }

    private static PeerVerdict Verdict(ServerTlsState state, (string Cert, string Key) client)
    {
        using var leaf = X509Certificate2.CreateFromPem(File.ReadAllText(client.Cert));
        return ClientCertificateCheck.Recheck(state, leaf, [], TimeProvider.System);
    }

    // -extended_crl: without it OpenSSL does not set delta CRLs aside when it picks the complete CRL (get_crl_score), so
    // a delta with a later lastUpdate (or listed first at a tie) was taken as the whole CRL and A read as OK (1 run in 12).
    private async Task<string> OpenSslVerifyAsync(string certificate) =>
        (await OpenSslCa.TryRunAsync("openssl",
            $"verify -crl_check -use_deltas -extended_crl -CAfile {_pki.CaPath} -CRLfile {_pki.Folder}/base.pem -CRLfile {_pki.Folder}/delta.pem {certificate}")).Output;

    private static byte[] PemToDer(string pem)
    {
        var fields = PemEncoding.Find(pem);
        return Convert.FromBase64String(pem[fields.Base64Data]);
    }

    public void Dispose() => _pki.Dispose();
}
