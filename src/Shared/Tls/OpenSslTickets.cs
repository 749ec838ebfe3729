using System.Net.Security;
using System.Runtime.InteropServices;

namespace Tunnel.Tls;

/// <summary>Issues a TLS 1.3 session ticket on one server connection (<c>SSL_new_session_ticket</c>): OpenSSL sends it
/// ahead of the next bytes the server writes. With <see cref="OpenSslPolicy"/>'s <c>NumTickets = 0</c> the handshake
/// itself issues none, so tunnel-server calls this once it has accepted the client's certificate, and a client it
/// refuses (a prober, the decoy's visitors) gets no ticket.</summary>
/// <remarks>SslStream validates the client certificate after OpenSSL has finished the handshake, and OpenSSL issues its
/// default tickets (two) at that point, before the validation callback could stop them: hence none by default and one
/// on acceptance. With a <see cref="TlsSessionCache"/> the ticket is a session ID into <see cref="VerifiedSessions"/> (a
/// stateful ticket) rather than the whole session encrypted. Same conditions as <see cref="OpenSslBuffers"/> (Linux,
/// .NET 10's SslStream field, OpenSSL 3 alone); elsewhere it does nothing.</remarks>
internal static class OpenSslTickets
{
    private const ulong NoTicket = 1UL << 14; // SSL_OP_NO_TICKET: TLS 1.3 tickets are IDs into the server's cache

    /// <summary>Settles the tickets of a server connection whose client certificate was just judged, in one look-up of
    /// its SSL handle: reads whether the handshake resumed a session and, for an <paramref name="accepted"/> client,
    /// issues one ticket (sent ahead of the next bytes written). With <paramref name="cache"/> on, the ticket is stateful,
    /// its session kept by <see cref="VerifiedSessions"/> with <paramref name="verified"/> (the chain the handshake
    /// verified, so that resuming it does not verify it again), and the connection's SSL_CTX (SslStream keeps one per
    /// server certificate) gets the cache's timeout first: written only where it differs, so once per SSL_CTX, and a
    /// reload's new values apply from the next accepted client on.</summary>
    /// <returns>Whether the handshake resumed a session; false where the handle cannot be reached (nothing is issued
    /// then either).</returns>
    public static bool Settle(SslStream tls, TlsSessionCache cache, bool accepted, VerifiedChain? verified = null) =>
        OpenSslBuffers.WithSsl(tls, (cache, accepted, verified), false, static (ssl, s) =>
        {
            if (s.accepted)
            {
                if (s.cache.Enabled)
                {
                    UseCache(ssl, s.cache);
                    if (s.verified is { } chain)
                    {
                        OpenSslSessions.Attach(ssl, chain);
                    }
                }

                _ = NewSessionTicket(ssl);
            }

            return SessionReused(ssl) == 1;
        });

    /// <summary>Whether <paramref name="tls"/>'s handshake resumed a session (<c>SSL_session_reused</c>); false where
    /// that cannot be read.</summary>
    public static bool Resumed(SslStream tls) => OpenSslBuffers.WithSsl(tls, 0, false, static (ssl, _) => SessionReused(ssl) == 1);

    private static void UseCache(IntPtr ssl, TlsSessionCache cache)
    {
        // This connection's own ticket: its options were copied from the SSL_CTX when it was made.
        _ = SetOptions(ssl, NoTicket);
        var ctx = OpenSslSessions.GetSslCtx(ssl);
        var seconds = (long)cache.Timeout.TotalSeconds;
        // Reads first, so the SSL_CTX is written once, not on every handshake that shares it.
        if ((CtxGetOptions(ctx) & NoTicket) == 0)
        {
            _ = CtxSetOptions(ctx, NoTicket);
        }

        if (CtxGetTimeout(ctx) != seconds)
        {
            _ = CtxSetTimeout(ctx, seconds);
        }

        // And this connection's session, before its ticket is made: a session takes its timeout from the SSL_CTX when a
        // full handshake makes it and from the session it resumed otherwise, so without this the sessions of a client
        // whose first handshake came before the line above, and every session resumed from them, kept OpenSSL's
        // default (7,200 s) instead of sessionCacheTimeout, in the ticket's lifetime and in the store.
        if (OpenSslSessions.GetSession(ssl) is var session && session != IntPtr.Zero && OpenSslSessions.GetTimeout(session) != seconds)
        {
            _ = SessionSetTimeout(session, seconds);
        }

        VerifiedSessions.Install(ssl, cache.Size);
    }

    [DllImport("libssl.so.3", EntryPoint = "SSL_new_session_ticket")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int NewSessionTicket(IntPtr ssl);

    [DllImport("libssl.so.3", EntryPoint = "SSL_session_reused")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern int SessionReused(IntPtr ssl);

    [DllImport("libssl.so.3", EntryPoint = "SSL_set_options")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern ulong SetOptions(IntPtr ssl, ulong options);

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_get_options")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern ulong CtxGetOptions(IntPtr ctx);

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_set_options")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern ulong CtxSetOptions(IntPtr ctx, ulong options);

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_get_timeout")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern long CtxGetTimeout(IntPtr ctx);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_set_timeout")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern long SessionSetTimeout(IntPtr session, long seconds);

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_set_timeout")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern long CtxSetTimeout(IntPtr ctx, long seconds);
}
