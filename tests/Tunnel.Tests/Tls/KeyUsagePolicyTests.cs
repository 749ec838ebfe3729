using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Client.Tls;
using Tunnel.Server.Tls;
using Tunnel.Tests.Support;
using Tunnel.Tls;
using Xunit.Abstractions;

namespace Tunnel.Tests.Tls;

/// <summary>Key usage and extended key usage of the peer's certificate, judged the same way by tunnel-server (of
/// clients) and tunnel-client (of servers): digitalSignature is required when a key usage is present, and the
/// extended key usage must be present and name the role. Certificates are made here with CertificateRequest.</summary>
public sealed class KeyUsagePolicyTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    public static TheoryData<string, X509KeyUsageFlags?, bool, string?> Cases => new()
    {
        { "client", X509KeyUsageFlags.DigitalSignature, true, null },
        { "client", X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true, null },
        { "client", null, true, null },
        { "client", X509KeyUsageFlags.KeyEncipherment, true, "does not allow digital signatures (key usage: KeyEncipherment)" },
        { "client", X509KeyUsageFlags.KeyAgreement, true, "does not allow digital signatures (key usage: KeyAgreement)" },
        { "client", X509KeyUsageFlags.DigitalSignature, false, "has no extended key usage; Tunnel requires clientAuth" },
        { "server", X509KeyUsageFlags.DigitalSignature, true, null },
        { "server", X509KeyUsageFlags.KeyEncipherment, true, "does not allow digital signatures (key usage: KeyEncipherment)" },
        { "server", X509KeyUsageFlags.KeyAgreement, true, "does not allow digital signatures (key usage: KeyAgreement)" },
        { "server", X509KeyUsageFlags.DigitalSignature, false, "has no extended key usage; Tunnel requires serverAuth" },
    };

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(Cases))]
    public async Task Each_side_judges_the_usage_of_the_peer_certificate(string role, X509KeyUsageFlags? keyUsage, bool withEku, string? refusal)
    {
        await Task.Yield();
        var pair = Issue(role, keyUsage, withEku);
        using var leaf = X509Certificate2.CreateFromPem(File.ReadAllText(pair.Cert));

        var verdict = role == "client" ? JudgeAsServer(leaf) : JudgeAsClient(leaf);

        if (refusal is null)
        {
            Assert.True(verdict.Ok, verdict.Reason);
        }
        else
        {
            Assert.Equal(PeerProblem.WrongUsage, verdict.Problem);
            Assert.Contains(refusal, verdict.Reason);
            Assert.Contains($"the {role} certificate CN=odd", verdict.Reason);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Tunnel_server_refuses_a_key_agreement_only_client_at_the_handshake_and_logs_why()
    {
        var keyAgreementOnly = Issue("client", X509KeyUsageFlags.KeyAgreement, withEku: true);
        var keyEnciphermentOnly = Issue("client", X509KeyUsageFlags.KeyEncipherment, withEku: true);
        var good = Issue("client", X509KeyUsageFlags.DigitalSignature, withEku: true);
        await using var upstream = new TcpTestServer(Integration.DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);

        // .NET's own client will not present such a certificate; OpenSSL's will, as an attacker's tool would.
        foreach (var refused in new[] { keyAgreementOnly, keyEnciphermentOnly })
        {
            var (_, transcript) = await OpenSslCa.TryRunAsync("openssl",
                $"s_client -connect {tunnel.ServerEndPoint} -tls1_3 -CAfile {_pki.CaPath} -cert {refused.Cert} -key {refused.Key} -ign_eof", "hello\n");
            Assert.Contains("Verify return code: 0 (ok)", transcript); // the handshake itself went through
        }

        await _logs.WaitForAsync(l => l.Message.Contains("key usage: KeyAgreement"), TimeSpan.FromSeconds(15));
        await _logs.WaitForAsync(l => l.Message.Contains("key usage: KeyEncipherment"), TimeSpan.FromSeconds(15));
        await using var accepted = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, good);
        await accepted.WriteAsync("x"u8.ToArray());
        Assert.Equal(1, await accepted.ReadAsync(new byte[1]).AsTask().WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(1, upstream.Accepted); // only the good client reached the upstream

        // OpenSSL's sslclient purpose refuses the keyEncipherment-only certificate too. (It lets keyAgreement-only
        // pass for a client; Tunnel is stricter there, since TLS 1.3 authenticates the client by a signature.)
        var openssl = await OpenSslCa.TryRunAsync("openssl", $"verify -CAfile {_pki.CaPath} -purpose sslclient {keyEnciphermentOnly.Cert}");
        Assert.NotEqual(0, openssl.ExitCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Tunnel_client_refuses_a_server_certificate_that_may_not_sign()
    {
        var server = Issue("server", X509KeyUsageFlags.KeyEncipherment, withEku: true);
        await using var upstream = new TcpTestServer(Integration.DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["cert"] = server.Cert;
            s["key"] = server.Key;
        });

        using var socket = await tunnel.ConnectClientAsync();
        var response = await ProxyExchange.SendAsync(socket, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", TimeSpan.FromSeconds(15));

        Assert.StartsWith("HTTP/1.1 502", response);
        Assert.Contains("does not allow digital signatures (key usage: KeyEncipherment)", response);
        Assert.Equal(0, upstream.Accepted);
    }

    private PeerVerdict JudgeAsServer(X509Certificate2 leaf)
    {
        var serverPair = _pki.IssueServer();
        var options = TestOptions.Server(new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["upstreams"] = "127.0.0.1:9",
            ["cert"] = serverPair.Cert,
            ["key"] = serverPair.Key,
            ["ca"] = _pki.CaPath,
        });
        return ClientCertificateCheck.Recheck(ServerTlsState.Load(options.Tunnels[0], TimeProvider.System), leaf, [], TimeProvider.System);
    }

    private PeerVerdict JudgeAsClient(X509Certificate2 leaf)
    {
        var options = TestOptions.Client(new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["servers"] = "127.0.0.1:9",
            ["serverName"] = "tunnel.test",
            ["ca"] = _pki.CaPath,
        });
        var state = ClientTlsState.Load(options.Tunnels[0], TimeProvider.System);
        using var chain = new X509Chain { ChainPolicy = state.ChainPolicy.Clone() };
        var errors = chain.Build(leaf) ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateChainErrors;
        var check = new ServerCertificateCheck(state, TimeProvider.System);
        check.Validate(this, leaf, chain, errors);
        return check.Verdict!;
    }

    /// <summary>A leaf for "tunnel.test" signed by the test root, with the given key usage (none: no extension) and
    /// the role's extended key usage or none.</summary>
    private (string Cert, string Key) Issue(string role, X509KeyUsageFlags? keyUsage, bool withEku)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=odd", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        if (keyUsage is { } usage)
        {
            request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, critical: true));
        }

        if (withEku)
        {
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([role == "server" ? KeyUsages.ServerAuth : KeyUsages.ClientAuth], false));
        }

        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("tunnel.test");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_pki.Root, true, false));
        using var certificate = request.Create(_pki.Root, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(12));
        var stem = Path.Combine(_pki.Folder, $"odd-{Guid.NewGuid():N}");
        File.WriteAllText(stem + ".pem", certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(stem + ".key", key.ExportPkcs8PrivateKeyPem() + "\n");
        File.SetUnixFileMode(stem + ".key", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (stem + ".pem", stem + ".key");
    }

    public void Dispose() => _pki.Dispose();
}
