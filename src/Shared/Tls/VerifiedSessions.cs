using System.Collections.Concurrent;
using System.Net.Security;
using System.Runtime.InteropServices;

namespace Tunnel.Tls;

/// <summary>tunnel-server's cache of resumable TLS sessions (<see cref="TlsSessionCache"/>), kept here rather than in
/// OpenSSL's own cache so that resuming a session does not verify the client's chain again. SslStream verifies the
/// peer's chain after every handshake, resumed or not, where OpenSSL, stunnel and Go verify it on the full handshake
/// only: at one new connection at a time that was two ECDSA signature checks per connection on the server (the client
/// certificate's, and its CA's self-signature, which .NET always checks), about 9 % of a default pair's CPU.</summary>
/// <remarks>
/// <para>A session made by a full handshake whose client certificate was accepted is stored without the certificate
/// (the <c>peer</c> field taken out of its encoding) and with the chain that handshake verified
/// (<see cref="VerifiedChain"/>). Resumed, it gives SslStream no certificate to verify, and
/// <see cref="TakeVerifiedChain"/> hands the validation callback the stored chain instead, which tunnel-server judges
/// again under its current policy: trust in the root, validity dates, CRL and allow-list (signatures and the
/// certificate's contents cannot have changed).</para>
/// <para>A session stored with no verified chain (TLS 1.2, where OpenSSL caches the session before SslStream has judged
/// it) keeps its certificate, and SslStream verifies it in full when it is resumed, as before. Installed on an
/// SSL_CTX by <see cref="OpenSslTickets.Settle"/>; same conditions as <see cref="OpenSslBuffers"/>.</para>
/// <para>The callbacks are set on the SSL_CTX that SslStream shares between every server stream of the process with
/// the same certificate, so every such stream must judge its client through <c>ClientCertificateCheck</c>, which
/// knows a session resumed without a certificate (in tunnel-server, every TLS listener does). tunnel-client does the
/// same with SslStream's own client cache (<c>VerifiedServerSessions</c>).</para>
/// <para>A resumed connection gets a new ticket, whose session carries the same chain on. Sessions leave when they
/// expire (<c>sessionCacheTimeout</c>), when OpenSSL drops one (its connection ended in a fatal alert), and oldest
/// first when the cache is full (<c>sessionCacheSize</c>).</para>
/// </remarks>
internal static class VerifiedSessions
{
    private const long CacheServerOnly = 0x0002 | 0x0100 | 0x0200; // SSL_SESS_CACHE_SERVER | NO_INTERNAL_LOOKUP | NO_INTERNAL_STORE
    private const int SetCacheMode = 44;                            // SSL_CTRL_SET_SESS_CACHE_MODE

    private static readonly ConcurrentDictionary<IntPtr, SessionStore> Stores = new(); // per SSL_CTX, as OpenSSL's own cache

    // OpenSSL keeps pointers to these: the delegates must live as long as the process.
    private static readonly OpenSslSessions.NewSessionCallback OnNew = Stored;
    private static readonly GetSessionCallback OnGet = Looked;
    private static readonly RemoveSessionCallback OnRemove = Removed;
    private static readonly IntPtr NewPointer = Marshal.GetFunctionPointerForDelegate(OnNew);
    private static long _nextPrune;
    private static long _evicted;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr GetSessionCallback(IntPtr ssl, IntPtr id, int length, IntPtr copy);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void RemoveSessionCallback(IntPtr context, IntPtr session);

    /// <summary>Makes <paramref name="ssl"/>'s SSL_CTX keep its sessions here (once per SSL_CTX; SslStream keeps one
    /// per server certificate), at most <paramref name="capacity"/> of them.</summary>
    internal static void Install(IntPtr ssl, int capacity)
    {
        var context = OpenSslSessions.GetSslCtx(ssl);
        Stores.GetOrAdd(context, static _ => new SessionStore()).Capacity = capacity;
        PruneOthers(context, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        if (OpenSslSessions.GetNewCallback(context) == NewPointer)
        {
            return;
        }

        OpenSslSessions.SetNewCallback(context, NewPointer);
        SetGetCallback(context, Marshal.GetFunctionPointerForDelegate(OnGet));
        SetRemoveCallback(context, Marshal.GetFunctionPointerForDelegate(OnRemove));
        _ = CtxCtrl(context, SetCacheMode, CacheServerOnly, IntPtr.Zero);
    }

    /// <summary>Sessions stored now, in the stores of every SSL_CTX (<c>tunnel_tls_session_cache_sessions</c>).</summary>
    public static int Count => Stores.Values.Sum(static store => store.Count);

    /// <summary>Unexpired sessions dropped because their store was full, since the process started
    /// (<c>tunnel_tls_session_cache_evictions_total</c>): a client whose session went makes a full handshake, so a
    /// steady rise says <c>sessionCacheSize</c> is smaller than the clients that come back within
    /// <c>sessionCacheTimeout</c>.</summary>
    public static long Evicted => Interlocked.Read(ref _evicted);

    /// <summary>At most once a minute, drops the expired sessions of the other SSL_CTXs: SslStream makes a new SSL_CTX
    /// when the server certificate changes (a reload), and the old one's sessions would otherwise stay until the process
    /// ends. Their stores stay, empty (one small object per certificate the process has served). Removing a store once
    /// empty raced a live SSL_CTX: a TLS 1.3 resumption takes its session out of the store, and the session of the
    /// ticket issued on that connection goes in a moment later, when there was no store left to hold it (that client's
    /// next connection made a full handshake; a tunnel-server with several certificates prunes the others on every
    /// tunnel's connections).</summary>
    private static void PruneOthers(IntPtr current, long now)
    {
        var due = Volatile.Read(ref _nextPrune);
        if (now < due || Interlocked.CompareExchange(ref _nextPrune, now + 60, due) != due)
        {
            return;
        }

        foreach (var (context, store) in Stores)
        {
            if (context != current)
            {
                store.DropExpired(now);
            }
        }
    }

    /// <summary>The chain verified by the full handshake of the session <paramref name="tls"/> resumed, when it resumed
    /// one stored here without its certificate; null otherwise.</summary>
    public static VerifiedChain? TakeVerifiedChain(SslStream tls) =>
        OpenSslBuffers.WithSsl(tls, 0, (VerifiedChain?)null, static (ssl, _) => OpenSslTickets.SessionReused(ssl) == 1 ? OpenSslSessions.Detach(ssl) : null);

    // new_session_cb: OpenSSL made a session (a ticket is being sent, or a TLS 1.2 handshake ended). Returns 0: the
    // session is copied, not kept. Exceptions must not reach OpenSSL: a session that cannot be stored is not resumable.
    private static int Stored(IntPtr ssl, IntPtr session)
    {
        try
        {
            var chain = OpenSslSessions.Detach(ssl);
            var encoded = OpenSslSessions.Encode(session);
            var expires = OpenSslSessions.GetTime(session) + OpenSslSessions.GetTimeout(session);
            if (Stores.TryGetValue(OpenSslSessions.GetSslCtx(ssl), out var store))
            {
                var entry = new SessionStore.Entry(chain is null ? encoded : OpenSslSessions.WithoutPeer(encoded), chain, expires);
                if (store.Add(OpenSslSessions.Id(session), entry, DateTimeOffset.UtcNow.ToUnixTimeSeconds()) is > 0 and var evicted)
                {
                    Interlocked.Add(ref _evicted, evicted);
                }
            }
        }
        catch (Exception)
        {
            // Not stored: the session is not resumable, the client makes a full handshake next time.
        }

        return 0;
    }

    // get_session_cb: a client offers a session ID (a TLS 1.3 stateful ticket, or a TLS 1.2 session ID). *copy = 0:
    // the returned session belongs to OpenSSL. OpenSSL then checks its expiry, context and binder itself.
    private static IntPtr Looked(IntPtr ssl, IntPtr id, int length, IntPtr copy)
    {
        Marshal.WriteInt32(copy, 0);
        try
        {
            var key = new byte[length];
            Marshal.Copy(id, key, 0, length);
            if (!Stores.TryGetValue(OpenSslSessions.GetSslCtx(ssl), out var store) || store.Find(key, DateTimeOffset.UtcNow.ToUnixTimeSeconds()) is not { } entry)
            {
                return IntPtr.Zero;
            }

            var session = OpenSslSessions.Decode(entry.Session);
            if (session != IntPtr.Zero && entry.Chain is { } chain)
            {
                OpenSslSessions.Attach(ssl, chain);
            }

            return session;
        }
        catch (Exception)
        {
            return IntPtr.Zero; // not found: a full handshake
        }
    }

    // remove_session_cb: OpenSSL drops a session (expired, or its connection failed).
    private static void Removed(IntPtr context, IntPtr session)
    {
        try
        {
            if (Stores.TryGetValue(context, out var store))
            {
                store.Remove(OpenSslSessions.Id(session));
            }
        }
        catch (Exception)
        {
            // Left to expire.
        }
    }

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_ctrl")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern long CtxCtrl(IntPtr ctx, int command, long argument, IntPtr pointer);

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_sess_set_get_cb")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void SetGetCallback(IntPtr ctx, IntPtr callback);

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_sess_set_remove_cb")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void SetRemoveCallback(IntPtr ctx, IntPtr callback);

}
