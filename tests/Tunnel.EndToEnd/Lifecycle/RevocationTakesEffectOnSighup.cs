using System.Net.Sockets;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Lifecycle;

/// <summary>Decommissioning a site with the certs CLI and a SIGHUP, as an operator would: the revoked client's next
/// handshake fails (a resumed TLS session included), while another site's established connection carries on. Run
/// twice: with the server's session cache (the default: the server keeps sessions, the ticket is a 32-byte ID) and
/// with <c>sessionCacheSize: 0</c> (the session, client certificate included, travels in the ticket).</summary>
[Trait("Category", "EndToEnd")]
public sealed class RevocationTakesEffectOnSighup(ITestOutputHelper output)
{
    [Theory(Timeout = 150_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_revoked_with_certs_is_refused_after_sighup_even_resuming_while_others_carry_on(bool sessionCache)
    {
        // Guards the revocation path end to end: certs revoke + certs crl producing a CRL tunnel-server enforces,
        // SIGHUP swapping it in without a restart, a TLS session ticket not letting a revoked client back in, and
        // established connections of other sites surviving the reload.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(130));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("revoke");
        var pki = sandbox.Folder("pki", writableByAll: false);
        foreach (var command in new[]
        {
            new[] { "init-ca" },
            ["issue", "server", ProxyChain.ServerName],
            ["issue", "client", "site-a"],
            ["issue", "client", "site-b"],
            ["crl"],
        })
        {
            await CertsAsync(binaries, pki, command, deadline.Token);
        }

        // Answers "pong" to each line, so a client sees that it got through; "bye" gets a pong and the end of the
        // stream (which is how s_client, waiting for the server to finish, knows it is done).
        await using var upstream = new TcpTestServer(async socket =>
        {
            var buffer = new byte[1024];
            int read;
            while ((read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None)) > 0)
            {
                await socket.SendAsync("pong\n"u8.ToArray(), SocketFlags.None);
                if (buffer.AsSpan(0, read).IndexOf("bye"u8) >= 0)
                {
                    socket.Shutdown(SocketShutdown.Send);
                }
            }
        });
        await using var server = await TunnelProcess.StartAsync(binaries, "tunnel-server",
            ["--listen", "127.0.0.1:0", "--upstream", upstream.Address,
                "--cert", Path.Combine(pki, "issued", $"{ProxyChain.ServerName}.pem"), "--key", Path.Combine(pki, "private", $"{ProxyChain.ServerName}.key"),
                "--ca", Path.Combine(pki, "ca-bundle.pem"), "--crl", Path.Combine(pki, "crl.pem"), "--watch-interval", "0"],
            output, deadline.Token, environment: sessionCache ? null : NoSessionCache);

        // site-a: a tunnel-client with a connection that stays open across the reload.
        await using var siteA = await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName,
            (Path.Combine(pki, "issued", "site-a.pem"), Path.Combine(pki, "private", "site-a.key")), Path.Combine(pki, "ca-bundle.pem"),
            output, deadline.Token, "--pool-size", "0");
        using var established = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await established.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, siteA.Port), deadline.Token);
        Assert.Equal("pong\n", await PingAsync(established, deadline.Token));

        // site-b: gets through, and keeps a session ticket.
        var session = Path.Combine(sandbox.Root, "site-b.session");
        var before = await SClientAsync(server, pki, "site-b", ["-sess_out", session], deadline.Token);
        Assert.Contains("pong", before);
        var ticket = await TicketLengthAsync(session, deadline.Token);
        if (sessionCache)
        {
            Assert.Equal(32, ticket); // a session ID: the session stays in the server's cache
        }
        else
        {
            Assert.True(ticket > 256, $"a {ticket}-byte ticket: the session, client certificate included, should travel in it");
        }

        var again = await SClientAsync(server, pki, "site-b", ["-sess_in", session], deadline.Token);
        Assert.Contains("Reused, TLSv1.3", again); // the ticket resumes, so the refusal below is of a resumed session
        Assert.Contains("pong", again);

        await CertsAsync(binaries, pki, ["revoke", "site-b", "--reason", "keyCompromise"], deadline.Token);
        await CertsAsync(binaries, pki, ["crl"], deadline.Token);
        server.Process.Reload();
        await server.WaitForEventAsync(e => e.EventName == "ReloadDone", "'reload complete'", deadline.Token);

        var resumed = await SClientAsync(server, pki, "site-b", ["-sess_in", session], deadline.Token);
        Assert.DoesNotContain("pong", resumed);
        var fresh = await SClientAsync(server, pki, "site-b", [], deadline.Token);
        Assert.DoesNotContain("pong", fresh);
        var refused = await server.WaitForEventAsync(e => e.EventName == "HandshakeFailed" && (e["Reason"] ?? "").Contains("revoked", StringComparison.Ordinal),
            "site-b refused as revoked", deadline.Token);
        Assert.Contains("CN=site-b", refused["Reason"]);

        Assert.Equal("pong\n", await PingAsync(established, deadline.Token));
        Assert.Contains("pong", await SClientAsync(server, pki, "site-a", [], deadline.Token));
    }

    private static IReadOnlyDictionary<string, string> NoSessionCache { get; } =
        new Dictionary<string, string> { ["TUNNEL_SESSIONCACHESIZE"] = "0" };

    /// <summary>The length in bytes of the TLS session ticket kept in an s_client session file, from the hex dump of
    /// <c>openssl sess_id -text</c> ("0000 - d7 42 a9 31 ...-e0 ea ...   .B.1...": up to 16 bytes a line).</summary>
    private async Task<int> TicketLengthAsync(string session, CancellationToken deadline)
    {
        await using var process = ExternalProcess.Start("sess_id", RequiredTool.OpenSsl, ["sess_id", "-in", session, "-noout", "-text"], output);
        await process.WaitForExitAsync(deadline);
        return process.Stdout.Split('\n')
            .SkipWhile(line => !line.Contains("TLS session ticket:", StringComparison.Ordinal)).Skip(1)
            .Select(line => line.Trim())
            .TakeWhile(line => line.Length > 7 && line[4..7] == " - ")
            .Sum(line => line[7..].Split("   ")[0].Split(' ', '-').Count(token => token.Length == 2));
    }

    private async Task CertsAsync(PublishedBinaries binaries, string pki, string[] command, CancellationToken deadline)
    {
        var (exit, stdout, stderr) = await TunnelProcess.RunToExitAsync(binaries, "tunnel-server", ["certs", .. command, "--dir", pki], output, deadline);
        Assert.True(exit == 0, $"certs {string.Join(' ', command)} exited {exit}: {stdout}{stderr}");
    }

    /// <summary>openssl s_client as site <paramref name="site"/> sending one line; returns its output.</summary>
    private async Task<string> SClientAsync(TunnelProcess server, string pki, string site, string[] extra, CancellationToken deadline)
    {
        string[] arguments =
        [
            "-c",
            "printf 'bye\\n' | exec \"$0\" s_client -connect \"$1\" -servername \"$2\" -CAfile \"$3\" -cert \"$4\" -key \"$5\" -tls1_3 -ign_eof " +
                string.Join(' ', extra.Select(e => $"'{e}'")),
            RequiredTool.OpenSsl, server.Address, ProxyChain.ServerName, Path.Combine(pki, "ca-bundle.pem"),
            Path.Combine(pki, "issued", $"{site}.pem"), Path.Combine(pki, "private", $"{site}.key"),
        ];
        await using var process = ExternalProcess.Start($"s_client {site}", "/bin/bash", arguments, output);
        await process.WaitForExitAsync(deadline);
        return process.Stdout;
    }

    private static async Task<string> PingAsync(Socket socket, CancellationToken deadline)
    {
        await socket.SendAsync("ping\n"u8.ToArray(), SocketFlags.None, deadline);
        var buffer = new byte[5];
        var read = 0;
        while (read < buffer.Length)
        {
            read += await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, deadline);
        }

        return System.Text.Encoding.ASCII.GetString(buffer);
    }
}
