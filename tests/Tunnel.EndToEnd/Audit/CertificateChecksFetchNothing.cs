using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Certs;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Audit;

/// <summary>No certificate check makes a request on a certificate's say-so. A certificate can name URLs (the
/// issuer's certificate and an OCSP responder in Authority Information Access, a CRL in its distribution points),
/// and .NET's chain building fetches them over HTTP unless told not to: a peer could make a TLS endpoint, or the
/// operator's <c>certs inspect</c>, connect wherever it likes. Here each presents a certificate whose issuing
/// intermediate it does not send, with all three URLs pointing at a local listener, and the chain cannot be completed
/// without them: tunnel-client refuses the server, tunnel-server refuses the client, <c>certs inspect</c> of the
/// server gives its verdict (untrusted), each says which issuer it could not find, tunnel-server opens no tunnel, and
/// the listener is never connected to. The shipped daemons are also compiled without .NET's HTTP client for such downloads
/// (src/NoCertificateDownloads.xml); a download asked for anyway would fail here instead of passing.</summary>
[Trait("Category", "EndToEnd")]
public sealed class CertificateChecksFetchNothing(ITestOutputHelper output)
{
    [Fact(Timeout = 120_000)]
    public async Task Chains_missing_their_intermediate_are_refused_without_fetching_what_the_certificate_points_to()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("nofetch");
        using var pki = new TestPki("E2E No-Fetch Root");
        await using var lure = new TcpTestServer(TcpTestServer.Silent);
        await using var upstream = new TcpTestServer(TcpTestServer.Silent);
        var urls = $"http://127.0.0.1:{lure.Port}";
        var now = DateTimeOffset.UtcNow;
        using var intermediate = CertificateFactory.Create(
            new CertificateSpec(CertificateKind.Intermediate, "E2E No-Fetch Intermediate", now.AddHours(-1), now.AddDays(30)), pki.Root);
        var strayServer = IssueUnder(intermediate, sandbox, "server", ProxyChain.ServerName, serverAuth: true, urls);
        var strayClient = IssueUnder(intermediate, sandbox, "client", "stray-site", serverAuth: false, urls);

        // tunnel-client against a server presenting only its leaf: refused, and the reason names the missing issuer.
        await using (var server = await TunnelProcess.StartServerAsync(binaries, upstream.Address, strayServer, pki.CaPath, output, deadline.Token))
        await using (var client = await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName, pki.IssueClient("site-a"),
            pki.CaPath, output, deadline.Token, "--pool-size", "0"))
        {
            await SendAndExpectCloseAsync(client, deadline.Token);
            var failed = await client.WaitForEventAsync(e => e.EventName == "UpstreamFailed", "tunnel-client's refusal of the server", deadline.Token);
            Assert.Contains("E2E No-Fetch Intermediate", failed["Reason"]);
            Assert.False(client.Process.HasExited, "tunnel-client exited");

            // certs inspect of the same server: the verdict, not a download.
            var (exitCode, stdout, stderr) = await TunnelProcess.RunToExitAsync(binaries, "tunnel-client",
                ["certs", "inspect", server.Address, "--servername", ProxyChain.ServerName, "--ca", pki.CaPath, "--timeout", "10s"], output, deadline.Token);
            Assert.True(exitCode == 1, $"certs inspect exited {exitCode}: {stdout}{stderr}");
            Assert.Contains("E2E No-Fetch Intermediate", stdout);
            Assert.DoesNotContain("Unhandled exception", stderr);
        }

        // tunnel-server against a client presenting only its leaf: refused, named, no tunnel opened.
        await using (var server = await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token))
        await using (var client = await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName, strayClient, pki.CaPath,
            output, deadline.Token, "--pool-size", "0"))
        {
            await SendAndExpectCloseAsync(client, deadline.Token);
            var failed = await server.WaitForEventAsync(e => e.EventName == "HandshakeFailed", "tunnel-server's refusal of the client", deadline.Token);
            Assert.Contains("E2E No-Fetch Intermediate", failed["Reason"]);
            Assert.False(server.Process.HasExited, "tunnel-server exited");
            Assert.DoesNotContain(server.Events, e => e.EventName == "ConnectionOpened");
        }

        Assert.True(lure.Accepted == 0, $"{lure.Accepted} connections to the URLs in the certificates");
    }

    /// <summary>A leaf issued by <paramref name="issuer"/> pointing at <paramref name="urls"/> for its issuer's
    /// certificate, OCSP and CRL, written without the issuer (cert file, key file). Made here rather than by
    /// CertificateFactory, which writes no Authority Information Access (the URL a chain builder fetches a missing
    /// issuer from).</summary>
    private static (string Cert, string Key) IssueUnder(X509Certificate2 issuer, Sandbox sandbox, string stem, string name, bool serverAuth, string urls)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [serverAuth ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(name);
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension([$"{urls}/ocsp"], [$"{urls}/intermediate.cer"]));
        request.CertificateExtensions.Add(CertificateRevocationListBuilder.BuildCrlDistributionPointExtension([$"{urls}/intermediate.crl"]));
        var now = DateTimeOffset.UtcNow;
        using var signed = request.Create(issuer, now.AddHours(-1), now.AddDays(30), RandomNumberGenerator.GetBytes(8));
        using var leaf = signed.CopyWithPrivateKey(key);
        var cert = sandbox.Path($"{stem}.pem");
        var keyPath = sandbox.Path($"{stem}.key");
        PemFiles.WriteCertificates(cert, [leaf], overwrite: true);
        PemFiles.WritePrivateKey(keyPath, leaf, overwrite: true);
        return (cert, keyPath);
    }

    /// <summary>Connects through tunnel-client, sends a line and waits for it to close the connection (the tunnel
    /// behind it was refused).</summary>
    private static async Task SendAndExpectCloseAsync(TunnelProcess client, CancellationToken deadline)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Parse(client.Host), client.Port, deadline);
        await socket.SendAsync("hello\n"u8.ToArray(), SocketFlags.None, deadline);
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, deadline) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // A reset is a close too.
        }
    }
}
