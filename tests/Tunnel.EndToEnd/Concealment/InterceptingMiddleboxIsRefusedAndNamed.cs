using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tunnel.EndToEnd.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Concealment;

/// <summary>The second promise of the threat model (DESIGN.md): a firewall that intercepts TLS with its own CA gets
/// nothing through the tunnel. tunnel-client refuses the forged certificate before a byte of the user's traffic is
/// sent, and says why in words an operator can act on: the network intercepts TLS, with the subject and issuer the
/// interceptor presented, in its log, in the HTTP 502 the user receives through Squid, and in <c>diagnose</c>. The interceptor is
/// mitmproxy (mitmdump, reverse mode, its own CA generated in the sandbox) between tunnel-client and tunnel-server.</summary>
[Trait("Category", "EndToEnd")]
public sealed partial class InterceptingMiddleboxIsRefusedAndNamed(ITestOutputHelper output)
{
    [Fact(Timeout = 120_000)]
    public async Task Behind_mitmproxy_tunnel_client_refuses_and_names_the_interceptor_in_its_log_and_in_the_502()
    {
        // Guards against tunnel-client accepting a certificate that does not chain to its CA (the user's traffic would
        // then be readable by the middlebox), against the refusal being silent (Squid would answer "200 Connection
        // established" and the user see a TLS error), and against a reason that does not name who intercepted.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(110));
        MitmproxyProcess? mitmproxy = null;
        await using var chain = await ProxyChain.StartAsync("mitm", output, deadline.Token, options: new ChainOptions
        {
            Middlebox = async (sandbox, server, token) => mitmproxy = await MitmproxyProcess.StartAsync(sandbox, server, output, token),
        });
        await chain.Target.PublishFileAsync("index.html", 4096, seed: 75, deadline.Token);
        using var mitmCa = mitmproxy!.LoadCa();
        var presented = await PresentedCertificateAsync(mitmproxy.Address, deadline.Token);
        output.WriteLine($"mitmproxy presents '{presented.Subject}' issued by '{presented.Issuer}' (its CA: '{mitmCa.Subject}')");
        Assert.Equal(mitmCa.Subject, presented.Issuer);
        Assert.Contains("CN=mitmproxy", presented.Issuer, StringComparison.Ordinal);
        var named = $"a certificate for '{presented.Subject}' issued by '{presented.Issuer}'";

        var connect = await chain.CurlAsync(deadline.Token, chain.Target.HttpsUrl("index.html"));
        Assert.True(connect.HttpConnect == 502 && connect.ExitCode == 56, connect.ToString()); // "CONNECT tunnel failed, response 502"
        var reason = WithoutKnownDown(TunnelError(connect.Headers));
        Assert.Matches(Interception(), reason);
        Assert.Contains(named, reason);
        Assert.Contains(mitmproxy.Address, reason);

        var http = await chain.CurlAsync(deadline.Token, chain.Target.HttpUrl("index.html"));
        Assert.True(http.HttpCode == 502, http.ToString());
        Assert.Equal(reason, WithoutKnownDown(TunnelError(http.Headers)));
        Assert.Contains(reason, http.Body);
        Assert.Contains("Via: 1.1 inner.e2e.test", http.Headers); // relayed by the inner Squid

        await chain.Client.WaitForEventAsync(e => e.EventName == "UpstreamFailed" && e["Reason"]?.Contains(reason, StringComparison.Ordinal) == true,
            "tunnel-client's warning naming the interceptor", deadline.Token);
        await chain.Client.WaitForEventAsync(e => e.EventName == "ConnectionClosed" && e["Reason"] == "tls-failed" && e["BytesUp"] == "0",
            "tunnel-client's close line with reason=tls-failed and nothing sent", deadline.Token);

        // diagnose, what an operator runs next, comes to the same verdict and shows the forged chain.
        var (cert, key) = chain.Pki.IssueClient(ProxyChain.ClientName);
        var binaries = await PublishedBinaries.GetAsync();
        var (exitCode, report, _) = await TunnelProcess.RunToExitAsync(binaries, "tunnel-client",
            ["diagnose", "--json", "--listen", "127.0.0.1:0", "--server", mitmproxy.Address, "--server-name", ProxyChain.ServerName, "--cert", cert,
                "--key", key, "--ca", chain.Pki.CaPath], output, deadline.Token);
        Assert.Equal(1, exitCode);
        using var json = JsonDocument.Parse(report);
        var server = json.RootElement.GetProperty("tunnels")[0].GetProperty("servers")[0];
        Assert.Equal("intercepted", server.GetProperty("verdict").GetString());
        var certificateStep = server.GetProperty("steps").EnumerateArray().Single(step => step.GetProperty("name").GetString() == "server certificate");
        Assert.Contains(named, certificateStep.GetProperty("detail").GetString());
        Assert.Equal(mitmCa.Subject, server.GetProperty("presentedChain")[0].GetProperty("issuer").GetString());

        // Nothing got through: tunnel-server authenticated no one (mitmproxy has no client certificate) and the outer
        // Squid never heard of the target.
        Assert.DoesNotContain(chain.Server.Events, e => e.EventName == "ConnectionOpened");
        Assert.DoesNotContain(chain.Outer.AccessLog, l => l.Contains(chain.Target.Host, StringComparison.Ordinal));
    }

    /// <summary>The value of tunnel-client's X-Tunnel-Error header in a response relayed by Squid.</summary>
    private static string TunnelError(string headers) =>
        headers.Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(l => l.StartsWith("X-Tunnel-Error: ", StringComparison.Ordinal))?["X-Tunnel-Error: ".Length..]
        ?? throw new Xunit.Sdk.XunitException($"no X-Tunnel-Error header in:\n{headers}");

    /// <summary>The reason without the suffix tunnel-client adds once it holds the server down after repeated failures
    /// (" (known down for 0.7s; rechecked in the background)"), which differs from one answer to the next.</summary>
    private static string WithoutKnownDown(string reason) =>
        reason.IndexOf(" (known down for ", StringComparison.Ordinal) is var at and >= 0 ? reason[..at] : reason;

    /// <summary>"the network intercepts TLS" (the forged certificate carries the expected name) or "the network may
    /// intercept TLS" (it does not); mitmproxy copies the real certificate's name, so the first is expected, but
    /// both tell the operator what happened.</summary>
    [GeneratedRegex("the network (may )?intercepts? TLS")]
    private static partial Regex Interception();

    /// <summary>What mitmproxy shows a client that sends tunnel-client's SNI (the server name, by default): the
    /// certificate is kept and the handshake refused.</summary>
    private static async Task<X509Certificate2> PresentedCertificateAsync(string address, CancellationToken deadline)
    {
        var colon = address.LastIndexOf(':');
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address[..colon], int.Parse(address[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture), deadline);
        X509Certificate2? seen = null;
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, certificate, _, _) =>
        {
            seen = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return false;
        });
        await Assert.ThrowsAsync<AuthenticationException>(() =>
            tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = ProxyChain.ServerName }, deadline));
        return seen ?? throw new InvalidOperationException($"mitmproxy at {address} presented no certificate");
    }
}
