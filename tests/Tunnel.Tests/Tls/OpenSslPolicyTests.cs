using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Tunnel.Tests.Support;
using Tunnel.Tls;

namespace Tunnel.Tests.Tls;

/// <summary>The client half of <see cref="OpenSslPolicy"/>: once applied (tunnel-client does it when it loads its TLS
/// state), an SslStream in the process offers no finite-field group, so a server that accepts only ffdhe2048 fails the
/// handshake, while one that wants X25519 gets it. The server half is in the end-to-end Audit tests.</summary>
public sealed class OpenSslPolicyTests : IDisposable
{
    private readonly TestPki _pki = new();

    [Theory(Timeout = 60_000)]
    [InlineData("ffdhe2048", false)]
    [InlineData("X25519", true)]
    [InlineData("P-384", true)]
    public async Task A_client_in_this_process_offers_only_strong_groups(string serverGroups, bool connects)
    {
        Assert.Contains("groups X25519:P-256:X448:P-384:P-521", OpenSslPolicy.EnsureApplied());
        var server = _pki.IssueServer();
        var port = FreePort();
        using var sServer = Process.Start(new ProcessStartInfo("openssl",
            $"s_server -accept 127.0.0.1:{port} -cert {server.Cert} -key {server.Key} -tls1_3 -groups {serverGroups} -naccept 1")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        })!;
        try
        {
            await WaitForLineAsync(sServer.StandardOutput, "ACCEPT", TimeSpan.FromSeconds(15));
            var endpoint = new IPEndPoint(IPAddress.Loopback, port);

            // A client certificate of its own (s_server never asks for it): .NET reuses an OpenSSL context made for
            // the same client options, and one made by an earlier test in this process, before the policy was
            // applied, still offers every group (seen once in a full run: ffdhe2048 then connected).
            var own = _pki.IssueClient($"groups-probe-{serverGroups}");
            if (connects)
            {
                await using var tls = await TlsTestClient.ConnectAsync(endpoint, _pki.Root, own);
                Assert.True(tls.IsAuthenticated);
            }
            else
            {
                await Assert.ThrowsAnyAsync<AuthenticationException>(() => TlsTestClient.ConnectAsync(endpoint, _pki.Root, own));
            }
        }
        finally
        {
            if (!sServer.HasExited)
            {
                sServer.Kill();
            }
        }
    }

    private static async Task WaitForLineAsync(StreamReader reader, string text, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        for (var line = await reader.ReadLineAsync(cancel.Token); line is not null; line = await reader.ReadLineAsync(cancel.Token))
        {
            if (line.Contains(text, StringComparison.Ordinal))
            {
                return;
            }
        }

        Assert.Fail($"openssl s_server exited before printing {text}");
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    public void Dispose() => _pki.Dispose();
}
