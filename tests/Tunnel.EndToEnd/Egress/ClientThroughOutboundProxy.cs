using System.Net;
using System.Net.Sockets;
using System.Text;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Egress;

/// <summary>Sites whose only egress is their own HTTP proxy: tunnel-client reaches tunnel-server through it with
/// CONNECT and Basic authentication, here a real Squid with Debian's basic_ncsa_auth helper.</summary>
[Trait("Category", "EndToEnd")]
public sealed class ClientThroughOutboundProxy(ITestOutputHelper output)
{
    private const string User = "site-proxy-user";
    private const string Password = "egress-secret";
    private const long Size = 4 * 1024 * 1024;

    [Fact(Timeout = 150_000)]
    public async Task Tunnels_through_an_authenticating_squid_and_explains_wrong_credentials_refusals_and_a_dead_proxy()
    {
        // Guards the egress path operators depend on where direct 443 is closed: the CONNECT request, the Basic
        // credentials, TLS through the proxy's tunnel, and the 407/403/refused cases each turning into a reason
        // the site's network team can act on instead of a generic failure.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(130));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("egress");
        using var pki = new TestPki("E2E Egress CA");
        var received = new TaskCompletionSource<(string Sha256, long Length)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TcpTestServer(Payload.DuplexUpstream(Size, seed: 82, received));
        await using var server = await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName),
            pki.CaPath, output, deadline.Token);

        var passwd = sandbox.WriteText("egress-passwd", await PasswordLineAsync(deadline.Token));
        await using var squid = await SquidProcess.StartAsync(sandbox, "egress", [.. SquidConfig.BasicAuth(passwd),
            // The site allows CONNECT only to the tunnel-server's port, as a strict egress policy would.
            $"acl tunnel_port port {server.Port}", "http_access deny CONNECT !tunnel_port"], output, deadline.Token);
        var client = pki.IssueClient("egress-site");
        var passwordFile = sandbox.WriteText("proxy-password", Password + "\n");
        File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        await using (var tunnel = await StartClientAsync(binaries, server, pki, client, $"http://{User}@{squid.Address}", passwordFile, output, deadline.Token))
        {
            var down = await DuplexTransfer.RunAsync(tunnel.Port, Size, seed: 81, deadline.Token);
            Assert.Equal((Payload.Expected(Size, 82), Size), down);
            Assert.Equal((Payload.Expected(Size, 81), Size), await received.Task.WaitAsync(deadline.Token));
            await squid.WaitForAccessLogAsync(l => l.Contains($"CONNECT {server.Address}", StringComparison.Ordinal) &&
                l.Contains($" {User} ", StringComparison.Ordinal), "the authenticated CONNECT to tunnel-server", deadline.Token);
        }

        var wrongFile = sandbox.WriteText("wrong-password", "not-it\n");
        File.SetUnixFileMode(wrongFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await using (var tunnel = await StartClientAsync(binaries, server, pki, client, $"http://{User}@{squid.Address}", wrongFile, output, deadline.Token))
        {
            var answer = await ConnectThroughAsync(tunnel.Port, deadline.Token);
            Assert.StartsWith("HTTP/1.1 502", answer);
            Assert.Contains($"outbound proxy {squid.Address} rejected the credentials of '{User}' (407", answer);
        }

        await using (var tunnel = await StartClientAsync(binaries, server, pki, client, $"http://{squid.Address}", null, output, deadline.Token))
        {
            var answer = await ConnectThroughAsync(tunnel.Port, deadline.Token);
            Assert.Contains($"outbound proxy {squid.Address} requires authentication (407", answer);
        }

        // The proxy's policy allows CONNECT only to the tunnel-server's port: another server port is refused.
        var elsewhere = await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath, output, deadline.Token);
        await using (elsewhere)
        await using (var tunnel = await StartClientAsync(binaries, elsewhere, pki, client, $"http://{User}@{squid.Address}", passwordFile, output, deadline.Token))
        {
            var answer = await ConnectThroughAsync(tunnel.Port, deadline.Token);
            Assert.Contains($"outbound proxy {squid.Address} refuses CONNECT to {elsewhere.Address} (403", answer);
        }

        var deadPort = FreePort.Next();
        await using (var tunnel = await StartClientAsync(binaries, server, pki, client, $"http://127.0.0.1:{deadPort}", null, output, deadline.Token))
        {
            var answer = await ConnectThroughAsync(tunnel.Port, deadline.Token);
            Assert.StartsWith("HTTP/1.1 503", answer);
            Assert.Contains($"outbound proxy cannot connect to 127.0.0.1:{deadPort}: connection refused", answer);
        }
    }

    private static Task<TunnelProcess> StartClientAsync(PublishedBinaries binaries, TunnelProcess server, TestPki pki, (string Cert, string Key) client,
        string proxy, string? passwordFile, ITestOutputHelper output, CancellationToken deadline) =>
        TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName, client, pki.CaPath, output, deadline,
            ["--proxy", proxy, "--health-check-interval", "0", .. passwordFile is null ? Array.Empty<string>() : ["--proxy-password-file", passwordFile]]);

    /// <summary>What Squid would send the tunnel-client; returns the whole answer.</summary>
    private static async Task<string> ConnectThroughAsync(int port, CancellationToken deadline)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), deadline);
        await socket.SendAsync("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"u8.ToArray(), SocketFlags.None, deadline);
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, deadline)) > 0)
        {
            answer.Write(buffer, 0, read);
        }

        return Encoding.UTF8.GetString(answer.ToArray());
    }

    private async Task<string> PasswordLineAsync(CancellationToken deadline)
    {
        await using var process = ExternalProcess.Start("openssl passwd", RequiredTool.OpenSsl, ["passwd", "-apr1", Password], output);
        Assert.Equal(0, await process.WaitForExitAsync(deadline));
        return $"{User}:{process.Stdout.Trim()}\n";
    }
}
