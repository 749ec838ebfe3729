using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Audit;

/// <summary>A client tunnel-server refuses gets no TLS session ticket, with or without a decoy (before, OpenSSL handed
/// every client two at the end of the handshake, before the certificate was judged); an accepted client gets one,
/// ahead of the server's first bytes, and resumes with it. The server's session cache holds only the accepted
/// client's session (<c>tunnel_tls_session_cache_sessions</c>).</summary>
[Trait("Category", "EndToEnd")]
public sealed class SessionTicketsOnlyForAcceptedClients(ITestOutputHelper output)
{
    [Theory(Timeout = 120_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Refused_clients_get_no_ticket_and_an_accepted_one_gets_one_and_resumes(bool withDecoy)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("tickets");
        using var pki = new TestPki("E2E Tickets CA");
        using var stranger = new TestPki("Stranger CA");
        await using var nginx = withDecoy ? await NginxTarget.StartAsync(sandbox, output, deadline.Token) : null;
        await using var upstream = new TcpTestServer(EchoAsync);
        string[] decoy = nginx is null ? [] : ["--decoy", $"127.0.0.1:{nginx.HttpPort}", "--alpn", "http/1.1"];
        await using var server = await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token, [.. decoy, "--admin-listen", "127.0.0.1:0"]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var metrics = new Uri($"http://127.0.0.1:{await server.AdminPortAsync(deadline.Token)}/metrics");

        var anonymous = await SClientAsync(server, pki.CaPath, null, sandbox.Path("anonymous.session"), null, deadline.Token);
        var foreign = await SClientAsync(server, pki.CaPath, stranger.IssueClient("intruder"), sandbox.Path("foreign.session"), null, deadline.Token);
        var cachedAfterRefusals = MetricsPage.Required(await http.GetStringAsync(metrics, deadline.Token), "tunnel_tls_session_cache_sessions");
        var site = pki.IssueClient("site-a");
        var accepted = await SClientAsync(server, pki.CaPath, site, sandbox.Path("site.session"), null, deadline.Token);
        var afterAccepted = await http.GetStringAsync(metrics, deadline.Token);
        var resumed = await SClientAsync(server, pki.CaPath, site, sandbox.Path("again.session"), sandbox.Path("site.session"), deadline.Token);

        foreach (var refused in new[] { anonymous, foreign })
        {
            Assert.Contains("Verify return code: 0 (ok)", refused); // the handshake completed: it saw the chain
            Assert.DoesNotContain("New Session Ticket arrived", refused);
            if (withDecoy)
            {
                Assert.Contains("HTTP/1.1 ", refused); // the decoy answered
            }
        }

        Assert.False(HasTicket(sandbox.Path("anonymous.session")), "a client without a certificate kept a session ticket");
        Assert.False(HasTicket(sandbox.Path("foreign.session")), "a client of another CA kept a session ticket");
        Assert.Contains("ping-echo", accepted);
        Assert.Equal(1, Count(accepted, "New Session Ticket arrived"));
        Assert.Equal(0, cachedAfterRefusals);
        Assert.Equal(1, MetricsPage.Required(afterAccepted, "tunnel_tls_session_cache_sessions"));
        Assert.Equal(0, MetricsPage.Required(afterAccepted, "tunnel_tls_session_cache_evictions_total"));
        Assert.Contains("Reused, TLSv1.3", resumed);
        Assert.Contains("ping-echo", resumed);
        await server.WaitForEventAsync(e => e.EventName == "ConnectionClosed" && e["PeerIdentity"] == "CN=intruder", "the intruder's close line",
            deadline.Token);
    }

    /// <summary>openssl s_client sending an HTTP request line (the decoy answers it, the echo upstream returns it), then
    /// closing after 2 s;
    /// <paramref name="sessionOut"/> receives any ticket, <paramref name="sessionIn"/> resumes one.</summary>
    private async Task<string> SClientAsync(TunnelProcess server, string ca, (string Cert, string Key)? identity, string sessionOut, string? sessionIn,
        CancellationToken deadline)
    {
        string[] arguments =
        [
            "-c",
            "{ printf 'GET /ping-echo HTTP/1.0\\r\\n\\r\\n'; sleep 2; } | exec \"$0\" s_client -connect \"$1\" -servername \"$2\" -CAfile \"$3\" " +
                "-tls1_3 -sess_out \"$4\" \"${@:5}\"",
            RequiredTool.OpenSsl, server.Address, ProxyChain.ServerName, ca, sessionOut,
            .. identity is { } pair ? new[] { "-cert", pair.Cert, "-key", pair.Key } : [],
            .. sessionIn is null ? [] : new[] { "-sess_in", sessionIn },
        ];
        await using var process = ExternalProcess.Start("s_client", "/bin/bash", arguments, output);
        await process.WaitForExitAsync(deadline);
        return process.Stdout + "\n" + process.Stderr;
    }

    /// <summary>Whether s_client saved a session ticket (it writes the file only when one arrives).</summary>
    private static bool HasTicket(string session) => File.Exists(session) && new FileInfo(session).Length > 0;

    private static int Count(string text, string what) => (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;

    private static async Task EchoAsync(System.Net.Sockets.Socket socket)
    {
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer.AsMemory(), System.Net.Sockets.SocketFlags.None)) > 0)
        {
            await socket.SendAsync(buffer.AsMemory(0, read), System.Net.Sockets.SocketFlags.None);
        }

        socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
    }
}
