using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Client.Tls;
using Tunnel.Server.Tls;
using Tunnel.Tests.Support;
using Tunnel.Tls;

namespace Tunnel.Tests.Tls;

/// <summary>tunnel-client's resumed sessions (VerifiedServerSessions): a session of a connection whose server was
/// accepted is kept in SslStream's cache without the server's certificate and with the chain its full handshake
/// verified, so a resumed handshake gives SslStream nothing to verify again, and tunnel-client judges the stored chain
/// under its current trust, name and pins instead. Real handshakes between the client's and the server's own options,
/// over loopback.</summary>
public sealed class ResumedServerSessionTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TestPki _pki = new("Client resumption CA");

    // .NET's client keeps one session per server name (SNI) for the whole process: a name of this test's own, so that
    // no other test's session replaces the one it resumes.
    private readonly string _host = $"resume-{Guid.NewGuid():N}.tunnel.test";
    private readonly ServerTlsState _server;
    private readonly (string Cert, string Key) _serverIdentity;
    private readonly (string Cert, string Key) _site;

    // Every connection stays open until the test ends: SslStream's process-wide cache of SSL_CTXs disposes each one no
    // connection is using whenever its count reaches a multiple of 32, and its sessions go with it, so in a full test
    // run a test's second handshake could find no session to resume. An open connection keeps its SSL_CTX.
    private readonly List<SslStream> _held = [];

    public ResumedServerSessionTests()
    {
        _serverIdentity = _pki.IssueServer(_host);
        _server = ServerTlsState.Load(TestOptions.ReadServer(_pki, new Dictionary<string, string> { ["cert"] = _serverIdentity.Cert, ["key"] = _serverIdentity.Key }).Tunnels[0],
            TimeProvider.System);
        _site = _pki.IssueClient($"site-{Guid.NewGuid():N}");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_resumed_session_is_judged_on_the_chain_its_full_handshake_verified()
    {
        var state = Client();

        var full = await HandshakeAsync(state);
        var resumed = await HandshakeAsync(state);

        Assert.False(full.Resumed);
        Assert.NotNull(full.Presented); // SslStream verified the certificate the server sent
        Assert.True(full.Check.Verdict!.Ok, full.Check.Verdict.Reason);
        Assert.True(resumed.Resumed, "the second handshake did not resume");
        Assert.Null(resumed.Presented); // nothing for SslStream to verify again
        Assert.True(resumed.Check.Verdict!.Ok, resumed.Check.Verdict.Reason);
        Assert.Equal(full.Check.Verdict.PeerName, resumed.Check.Verdict.PeerName);
        Assert.True(resumed.Relayed, "the resumed connection did not carry data");

        var again = await HandshakeAsync(state); // the resumed connection's own ticket resumes too
        Assert.True(again.Resumed);
        Assert.Null(again.Presented);
        Assert.True(again.Check.Verdict!.Ok, again.Check.Verdict.Reason);
        Assert.True(again.Relayed);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_handshake_that_starts_after_another_resumed_the_only_ticket_resumes_too()
    {
        // OpenSSL retires a TLS 1.3 session on the client when a handshake that resumed it finishes, and SslStream hands
        // that same session to the next handshake: until a new ticket arrives (with the server's first bytes, not read
        // here), the next handshake offered nothing and was a full one. TicketStock gives it a copy of the ticket.
        var state = Client();
        var full = await HandshakeAsync(state); // its ticket arrives with the byte it reads
        var first = await HandshakeAsync(state, read: false);
        var second = await HandshakeAsync(state, read: false);
        var third = await HandshakeAsync(state);

        Assert.False(full.Resumed);
        Assert.True(first.Resumed, "the first handshake after the full one did not resume");
        Assert.True(second.Resumed, "a handshake after another resumed the same ticket did not resume");
        Assert.Null(second.Presented); // judged on the stored chain, as any resumed session
        Assert.True(second.Check.Verdict!.Ok, second.Check.Verdict.Reason);
        Assert.True(third.Resumed);
        Assert.True(third.Relayed);
    }

    [Fact(Timeout = 60_000)]
    public async Task Tickets_carry_the_server_sessionCacheTimeout_from_the_first_handshake_on()
    {
        // The server's first session on a new certificate was made before tunnel-server set its timeout on the SSL_CTX,
        // and sessions resumed from it inherited OpenSSL's default (7,200 s) instead of sessionCacheTimeout.
        var server = ServerTlsState.Load(TestOptions.ReadServer(_pki, new Dictionary<string, string>
        {
            ["cert"] = _serverIdentity.Cert,
            ["key"] = _serverIdentity.Key,
            ["sessionCacheTimeout"] = "90s",
        }).Tunnels[0], TimeProvider.System);
        var serverOptions = () => server.CreateOptions(new ClientCertificateCheck(server, TimeProvider.System));
        var state = Client();

        var full = await HandshakeAsync(state, serverOptions());
        var resumed = await HandshakeAsync(state, serverOptions());

        Assert.True(resumed.Resumed);
        Assert.Equal(90, full.TicketLifetime);
        Assert.Equal(90, resumed.TicketLifetime);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_session_of_a_ca_no_longer_trusted_is_refused_when_it_resumes()
    {
        using var other = new TestPki("Replacement CA");
        _ = await HandshakeAsync(Client());

        var resumed = await HandshakeAsync(Client(new() { ["ca"] = other.CaPath }));

        Assert.True(resumed.Resumed);
        Assert.Null(resumed.Presented);
        Assert.Equal(PeerProblem.UnknownIssuer, resumed.Check.Verdict!.Problem);
        Assert.Contains("does not chain to the configured CA", resumed.Check.Verdict.Reason);
        Assert.False(resumed.Relayed);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_session_is_refused_when_it_resumes_under_pins_it_does_not_match()
    {
        using var other = new TestPki("Pinned elsewhere CA");
        _ = await HandshakeAsync(Client(new() { ["serverPins"] = CertificateInfo.SpkiPin(_pki.Root) }));
        var pinned = await HandshakeAsync(Client(new() { ["serverPins"] = CertificateInfo.SpkiPin(_pki.Root) }));

        var repinned = await HandshakeAsync(Client(new() { ["serverPins"] = CertificateInfo.SpkiPin(other.Root) }));

        Assert.True(pinned.Resumed);
        Assert.Null(pinned.Presented);
        Assert.True(pinned.Check.Verdict!.Ok, pinned.Check.Verdict.Reason); // the root's pin, found in the stored chain
        Assert.True(repinned.Resumed);
        Assert.Null(repinned.Presented); // judged on the stored chain, not on a certificate sent again
        Assert.Equal(PeerProblem.PinMismatch, repinned.Check.Verdict!.Problem);
        Assert.False(repinned.Relayed);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_session_is_refused_when_it_resumes_under_a_server_name_its_certificate_lacks()
    {
        _ = await HandshakeAsync(Client());

        // Same SNI (the session's key), another expected name.
        var resumed = await HandshakeAsync(Client(new() { ["serverName"] = "elsewhere.tunnel.test", ["sni"] = _host }));

        Assert.True(resumed.Resumed);
        Assert.Null(resumed.Presented); // judged on the stored chain, not on a certificate sent again
        Assert.Equal(PeerProblem.NameMismatch, resumed.Check.Verdict!.Problem);
        Assert.Contains("not 'elsewhere.tunnel.test'", resumed.Check.Verdict.Reason);
        Assert.False(resumed.Relayed);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_tls12_session_keeps_its_certificate_and_is_verified_in_full_when_it_resumes()
    {
        // TLS 1.2 hands the session over when the handshake ends, before SslStream has judged the server: it goes to
        // SslStream's cache whole. The server here is a plain SslStream one: tunnel-server does not resume the first
        // TLS 1.2 session of a certificate (its ticket is issued before the session cache is set on the SSL_CTX, which
        // then ignores tickets), and this test's server certificate is new.
        var state = Client(new() { ["tlsMinVersion"] = "1.2" });

        var full = await HandshakeAsync(state, Tls12Server());
        var resumed = await HandshakeAsync(state, Tls12Server());
        var refused = await HandshakeAsync(Client(new() { ["tlsMinVersion"] = "1.2", ["serverName"] = "elsewhere.tunnel.test", ["sni"] = _host }), Tls12Server());

        Assert.Equal(SslProtocols.Tls12, full.Protocol);
        Assert.True(full.Check.Verdict!.Ok, full.Check.Verdict.Reason);
        Assert.True(resumed.Resumed, "the second TLS 1.2 handshake did not resume");
        Assert.NotNull(resumed.Presented); // verified in full, as before
        Assert.True(resumed.Check.Verdict!.Ok, resumed.Check.Verdict.Reason);
        Assert.True(resumed.Relayed);
        Assert.True(refused.Resumed);
        Assert.Equal(PeerProblem.NameMismatch, refused.Check.Verdict!.Problem);
        Assert.False(refused.Relayed);
    }

    public void Dispose()
    {
        _held.ForEach(static tls => tls.Dispose());
        _pki.Dispose();
    }

    private ClientTlsState Client(Dictionary<string, string>? values = null)
    {
        var all = new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["servers"] = "127.0.0.1:9",
            ["serverName"] = _host,
            ["ca"] = _pki.CaPath,
            ["cert"] = _site.Cert,
            ["key"] = _site.Key,
        };
        foreach (var (key, value) in values ?? [])
        {
            all[key] = value;
        }

        return ClientTlsState.Load(TestOptions.Client(all).Tunnels[0], TimeProvider.System);
    }

    /// <summary>A plain SslStream server speaking TLS 1.2 only, with the tunnel server's certificate.</summary>
    private SslServerAuthenticationOptions Tls12Server() => new()
    {
        ServerCertificateContext = _server.Identity.Context,
        EnabledSslProtocols = SslProtocols.Tls12,
        ClientCertificateRequired = true,
        RemoteCertificateValidationCallback = static (_, certificate, _, _) => certificate is not null, // the client is not under test
    };

    /// <summary>One handshake of tunnel-client's options (<paramref name="state"/>) against tunnel-server's (or
    /// <paramref name="server"/>); the server then writes a byte (its session ticket goes ahead of it) and the client
    /// reads it, unless <paramref name="read"/> is false (the ticket then never reaches the client).</summary>
    private async Task<Outcome> HandshakeAsync(ClientTlsState state, SslServerAuthenticationOptions? server = null, bool read = true)
    {
        var (clientTls, serverTls) = await LoopbackTls.ConnectAsync();
        _held.Add(clientTls);
        _held.Add(serverTls);

        var check = new ServerCertificateCheck(state, TimeProvider.System);
        X509Certificate? presented = null;
        var resumed = false;
        var options = state.CreateOptions(check);
        options.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
        {
            presented = certificate;
            resumed = OpenSslTickets.Resumed((SslStream)sender); // a refused stream's handle is gone afterwards
            return check.Validate(sender, certificate, chain, errors);
        };

        using var timeout = new CancellationTokenSource(Timeout);
        var serving = LoopbackTls.ServeOneByteAsync(serverTls, server ?? _server.CreateOptions(new ClientCertificateCheck(_server, TimeProvider.System)), timeout.Token);
        var relayed = false;
        try
        {
            await clientTls.AuthenticateAsClientAsync(options, timeout.Token);
        }
        catch (AuthenticationException)
        {
            // Refused by the check.
        }

        if (clientTls.IsAuthenticated && read)
        {
            var buffer = new byte[1];
            relayed = await clientTls.ReadAsync(buffer, timeout.Token) == 1 && buffer[0] == LoopbackTls.Answer;
        }

        var protocol = clientTls.IsAuthenticated ? clientTls.SslProtocol : SslProtocols.None;
        var lifetime = OpenSslBuffers.WithSsl(clientTls, 0, -1L, static (ssl, _) =>
            OpenSslSessions.GetSession(ssl) is var session && session != IntPtr.Zero ? OpenSslSessions.TicketLifetime(session) : -1L);
        await serving;
        return new Outcome(check, presented, resumed, relayed, protocol, lifetime);
    }

    /// <summary>What one handshake came to; <paramref name="TicketLifetime"/> is the lifetime (seconds) of the ticket
    /// the client holds at the end, the one the server's byte brought when it was read.</summary>
    private sealed record Outcome(ServerCertificateCheck Check, X509Certificate? Presented, bool Resumed, bool Relayed, SslProtocols Protocol,
        long TicketLifetime);
}
