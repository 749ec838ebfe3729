using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Audit;

/// <summary>tunnel-server negotiates only key-exchange groups of at least 128-bit strength: a client that offers
/// only ffdhe2048 (112-bit; OpenSSL 3 accepts it by default) is refused, X25519 and the NIST curves work. Also with the
/// shipped OpenSSL configuration (deploy/openssl/tunnel-server.cnf via OPENSSL_CONF), which replaces the daemon's own
/// setting.</summary>
[Trait("Category", "EndToEnd")]
public sealed class OnlyStrongKeyExchangeGroupsAreOffered(ITestOutputHelper output)
{
    [Theory(Timeout = 120_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Ffdhe2048_is_refused_and_x25519_and_p256_are_negotiated(bool shippedOpenSslConfig)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Groups CA");
        await using var upstream = new TcpTestServer(TcpTestServer.Silent);
        var identity = pki.IssueServer(ProxyChain.ServerName);
        IReadOnlyDictionary<string, string>? environment = shippedOpenSslConfig
            ? new Dictionary<string, string> { ["OPENSSL_CONF"] = Path.Combine(RepositoryRoot.Path, "deploy", "openssl", "tunnel-server.cnf") }
            : null;
        await using var server = await TunnelProcess.StartAsync(binaries, "tunnel-server",
            ["--listen", "127.0.0.1:0", "--upstream", upstream.Address, "--cert", identity.Cert, "--key", identity.Key, "--ca", pki.CaPath],
            output, deadline.Token, environment: environment);

        var policy = await server.WaitForEventAsync(e => e.EventName == "TlsPolicy", "the OpenSSL policy line", deadline.Token);
        Assert.Contains(shippedOpenSslConfig ? "OPENSSL_CONF is set" : "groups X25519:P-256:X448:P-384:P-521", policy["Status"]);
        var ffdhe = await HandshakeAsync(server, "ffdhe2048", pki.CaPath, deadline.Token);
        var x25519 = await HandshakeAsync(server, "X25519", pki.CaPath, deadline.Token);
        var p256 = await HandshakeAsync(server, "P-256", pki.CaPath, deadline.Token);

        Assert.DoesNotContain("Server Temp Key", ffdhe);
        Assert.Contains("handshake failure", ffdhe);
        Assert.Contains("Server Temp Key: X25519", x25519);
        Assert.Contains("Server Temp Key: ECDH, prime256v1", p256);
    }

    /// <summary>openssl s_client offering only <paramref name="group"/>; returns what it printed.</summary>
    private async Task<string> HandshakeAsync(TunnelProcess server, string group, string ca, CancellationToken deadline)
    {
        await using var process = ExternalProcess.Start($"s_client-{group}", RequiredTool.OpenSsl,
            ["s_client", "-connect", server.Address, "-tls1_3", "-groups", group, "-CAfile", ca, "-servername", ProxyChain.ServerName], output);
        await process.WaitForExitAsync(deadline);
        return process.Stdout + "\n" + process.Stderr;
    }
}
