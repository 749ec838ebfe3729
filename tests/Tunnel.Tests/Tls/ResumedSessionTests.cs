using System.Formats.Asn1;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Server.Tls;
using Tunnel.Tests.Support;
using Tunnel.Tls;

namespace Tunnel.Tests.Tls;

/// <summary>tunnel-server's resumed sessions (VerifiedSessions): a session is stored without the client certificate
/// and with the chain its full handshake verified, so a resumed handshake gives SslStream nothing to verify again, and
/// tunnel-server judges the stored chain under its current policy instead. Real handshakes between .NET's client and
/// the server's own options, over loopback.</summary>
public sealed class ResumedSessionTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TestPki _pki = new("Resumption CA");

    // .NET's client keeps one session per server name for the whole process, and other tests connect to their own
    // servers as "tunnel.test": a name of this test's own, so that no other test's session replaces the one it resumes.
    private readonly string _host = $"resume-{Guid.NewGuid():N}.tunnel.test";
    private readonly (string Cert, string Key) _server;
    private readonly SslClientAuthenticationOptions _client;

    // Every connection stays open until the test ends: SslStream's process-wide cache of SSL_CTXs disposes each one no
    // connection is using whenever its count reaches a multiple of 32, and its sessions go with it, so in a full test
    // run a test's second handshake could find no session to resume. An open connection keeps its SSL_CTX.
    private readonly List<SslStream> _held = [];

    public ResumedSessionTests()
    {
        _server = _pki.IssueServer(_host);
        // One options object, so .NET's client keeps and offers the session it was given.
        _client = TlsTestClient.Options(_pki.Root, _pki.IssueClient("site-r"), _host, resume: true);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_resumed_session_is_judged_on_the_chain_its_full_handshake_verified()
    {
        var state = Load();

        var full = await HandshakeAsync(state);
        var resumed = await HandshakeAsync(state);

        Assert.False(full.Check.Resumed);
        Assert.NotNull(full.Presented); // SslStream verified the certificate the client sent
        Assert.True(full.Check.Verdict!.Ok, full.Check.Verdict.Reason);
        Assert.True(resumed.Check.Resumed, "the second handshake did not resume");
        Assert.Null(resumed.Presented); // nothing for SslStream to verify again
        Assert.True(resumed.Check.Verdict!.Ok, resumed.Check.Verdict.Reason);
        Assert.Equal("CN=site-r", resumed.Check.Verdict.PeerName);
        Assert.Equal(full.Check.Verified!.Leaf.RawData, resumed.Check.Verified!.Leaf.RawData);
        Assert.True(resumed.Relayed, "the resumed connection did not carry data");

        var again = await HandshakeAsync(state); // the resumed connection's own ticket resumes too
        Assert.True(again.Check.Resumed);
        Assert.Null(again.Presented);
        Assert.True(again.Check.Verdict!.Ok, again.Check.Verdict.Reason);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_taken_off_the_allow_list_is_refused_when_it_resumes()
    {
        _ = await HandshakeAsync(Load(new() { ["allow"] = "cn:site-r" }));

        var resumed = await HandshakeAsync(Load(new() { ["allow"] = "cn:another-site" }));

        Assert.True(resumed.Check.Resumed);
        Assert.Equal(PeerProblem.NotAllowed, resumed.Check.Verdict!.Problem);
        Assert.Contains("CN=site-r is valid but not in the allow-list", resumed.Check.Verdict.Reason);
        Assert.False(resumed.Relayed);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_revoked_since_is_refused_when_it_resumes()
    {
        var site = _pki.IssueClient("site-revoked");
        var client = TlsTestClient.Options(_pki.Root, site, _host, resume: true);
        _ = await HandshakeAsync(Load(new() { ["crl"] = _pki.WriteCrl([]) }), client);

        var resumed = await HandshakeAsync(Load(new() { ["crl"] = _pki.WriteCrl([site.Cert]) }), client);

        Assert.True(resumed.Check.Resumed);
        Assert.Equal(PeerProblem.Revoked, resumed.Check.Verdict!.Problem);
        Assert.Contains("is revoked", resumed.Check.Verdict.Reason);
        Assert.False(resumed.Relayed);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_session_of_a_ca_no_longer_trusted_is_refused_when_it_resumes()
    {
        using var other = new TestPki("Replacement CA");
        _ = await HandshakeAsync(Load());

        var resumed = await HandshakeAsync(Load(new() { ["ca"] = other.CaPath }));

        Assert.True(resumed.Check.Resumed);
        Assert.Equal(PeerProblem.UnknownIssuer, resumed.Check.Verdict!.Problem);
        Assert.Contains("does not chain to the configured CA", resumed.Check.Verdict.Reason);
        Assert.False(resumed.Relayed);
    }

    [Fact(Timeout = 10_000)]
    public async Task The_stored_encoding_drops_the_peer_field_and_keeps_every_other_byte()
    {
        await Task.Yield();
        var stripped = OpenSslSessions.WithoutPeer(Session(withPeer: true));

        Assert.Equal(Session(withPeer: false), stripped);
        Assert.ThrowsAny<AsnContentException>(() => OpenSslSessions.WithoutPeer([0x30, 0x05, 0x02]));
    }

    [Fact(Timeout = 10_000)]
    public async Task The_store_drops_expired_sessions_then_the_oldest_when_full()
    {
        await Task.Yield();
        var store = new SessionStore { Capacity = 10 };
        for (var i = 0; i < 10; i++)
        {
            store.Add([(byte)i], new SessionStore.Entry([], null, Expires: 100 + i), now: 0);
        }

        Assert.Equal(10, store.Count);

        var evicted = store.Add([42], new SessionStore.Entry([], null, Expires: 500), now: 0); // full: the two oldest go
        Assert.Equal(2, evicted);
        Assert.Equal(9, store.Count);
        Assert.Null(store.Find([0], now: 0));
        Assert.Null(store.Find([1], now: 0));
        Assert.NotNull(store.Find([2], now: 0));
        Assert.NotNull(store.Find([42], now: 0));

        Assert.Null(store.Find([5], now: 105)); // expired at 105, and dropped
        Assert.Equal(8, store.Count);

        store.Capacity = 8;
        evicted = store.Add([43], new SessionStore.Entry([], null, Expires: 600), now: 300); // full: the expired go first
        Assert.Equal(0, evicted); // expired sessions are not evictions
        Assert.Equal(2, store.Count);
        Assert.NotNull(store.Find([42], now: 300));
        Assert.NotNull(store.Find([43], now: 300));
    }

    [Fact(Timeout = 10_000)]
    public async Task A_full_store_drops_the_sessions_stored_first_whatever_their_expiry()
    {
        await Task.Yield();
        var store = new SessionStore { Capacity = 10 };
        for (var i = 0; i < 9; i++)
        {
            store.Add([(byte)i], new SessionStore.Entry([], null, Expires: 7_200), now: 0); // made under a longer timeout
        }

        store.Add([9], new SessionStore.Entry([], null, Expires: 300), now: 0); // the newest, made under a shorter one

        Assert.Equal(2, store.Add([10], new SessionStore.Entry([], null, Expires: 300), now: 0));
        Assert.Null(store.Find([0], now: 0));
        Assert.Null(store.Find([1], now: 0));
        Assert.NotNull(store.Find([9], now: 0)); // dropped first when the store sorted by expiry
        Assert.NotNull(store.Find([10], now: 0));
    }

    public void Dispose()
    {
        _held.ForEach(static tls => tls.Dispose());
        _pki.Dispose();
    }

    /// <summary>A session-shaped SEQUENCE: version, cipher, [1] time, [3] the peer's place (600 bytes), [4] context.</summary>
    private static byte[] Session(bool withPeer)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteInteger(1);
            writer.WriteOctetString([0x13, 0x02]);
            using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 1, isConstructed: true)))
            {
                writer.WriteInteger(1_700_000_000);
            }

            if (withPeer)
            {
                using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 3, isConstructed: true)))
                {
                    writer.WriteOctetString(new byte[600]);
                }
            }

            using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 4, isConstructed: true)))
            {
                writer.WriteOctetString([0xAA]);
            }
        }

        return writer.Encode();
    }

    private ServerTlsState Load(Dictionary<string, string>? values = null)
    {
        var all = new Dictionary<string, string> { ["cert"] = _server.Cert, ["key"] = _server.Key };
        foreach (var (key, value) in values ?? [])
        {
            all[key] = value;
        }

        return ServerTlsState.Load(TestOptions.ReadServer(_pki, all).Tunnels[0], TimeProvider.System);
    }

    /// <summary>One handshake of .NET's client against the server options of <paramref name="state"/>; the server
    /// then writes a byte (the session ticket goes ahead of it) and the client reads it.</summary>
    private async Task<Outcome> HandshakeAsync(ServerTlsState state, SslClientAuthenticationOptions? client = null)
    {
        var (clientTls, serverTls) = await LoopbackTls.ConnectAsync();
        _held.Add(clientTls);
        _held.Add(serverTls);

        var check = new ClientCertificateCheck(state, TimeProvider.System);
        X509Certificate? presented = null;
        var options = state.CreateOptions(check);
        options.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
        {
            presented = certificate;
            return check.Validate(sender, certificate, chain, errors);
        };

        using var timeout = new CancellationTokenSource(Timeout);
        var serving = LoopbackTls.ServeOneByteAsync(serverTls, options, timeout.Token);
        var relayed = false;
        try
        {
            await clientTls.AuthenticateAsClientAsync(client ?? _client, timeout.Token);
            var buffer = new byte[1];
            relayed = await clientTls.ReadAsync(buffer, timeout.Token) == 1 && buffer[0] == LoopbackTls.Answer;
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException)
        {
            // A refused client learns it on its first read (TLS 1.3).
        }

        await serving;
        return new Outcome(check, presented, relayed);
    }

    private sealed record Outcome(ClientCertificateCheck Check, X509Certificate? Presented, bool Relayed);
}
