using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Tunnel.Tls;

namespace Tunnel.Client.Tls;

/// <summary>tunnel-client's TLS 1.3 session tickets, a few per server name, so that every handshake offers a ticket
/// OpenSSL has not retired. Without it about one warm-pool refill in twenty-five made a full handshake under load.</summary>
/// <remarks>
/// <para>Why: OpenSSL retires a TLS 1.3 session on the client when a handshake that resumed it finishes (it marks the
/// session object not resumable and takes it out of the cache, since tickets are meant to be used once), and SslStream
/// keeps one session per server name and hands that same object to every handshake it starts. With the warm pool, two
/// or three refills are under way at once, all given the newest session: the first to finish retires it, and each
/// refill that starts before the next ticket arrives (tickets come with a connection's first answer) or that had been
/// given it a moment before offers nothing, and makes a full handshake (signatures and chain checks on both sides).
/// Counted on the benchmark's pair at one connection at a time: 3.3-5 % of handshakes full, 1.9 % with SslStream's
/// cache re-armed after each retirement, none with this (docs/operations.md, "Resumed handshakes").</para>
/// <para>How: each new TLS 1.3 session SslStream is given (<see cref="VerifiedServerSessions"/>) is also kept here,
/// newest last, at most <see cref="Depth"/> per SSL_CTX and server name. When a handshake starts (OpenSSL's info
/// callback, before the ClientHello is written), it is given, in place of SslStream's choice, a copy of the newest
/// ticket no other handshake was given, so concurrent handshakes each offer their own; when every kept ticket has been
/// given, a copy of the newest one, whose ticket the server then sees twice (tunnel-server accepts that, as OpenSSL's
/// and stunnel's servers do without early data; a server that does not makes a full handshake, as before). A copy is
/// the session decoded anew with the same verified chain: an object of the handshake's own, which only it can retire
/// (SslStream retires the session object it replaces, and the retired mark is not part of the encoding). Tickets older
/// than their lifetime are dropped.</para>
/// <para>The offered session is judged on resumption as any other (<see cref="ServerCertificateCheck"/> on its stored
/// chain). Same conditions as <see cref="OpenSslBuffers"/>; with no ticket kept for a name, SslStream's choice stands.
/// </para>
/// </remarks>
internal static class TicketStock
{
    /// <summary>Tickets kept per SSL_CTX and server name.</summary>
    internal const int Depth = 8;

    private const int Tls13 = 0x0304;
    private const int HandshakeStart = 0x10;   // SSL_CB_HANDSHAKE_START
    private const int HostName = 0;            // TLSEXT_NAMETYPE_host_name

    private static readonly ConcurrentDictionary<(IntPtr Context, string Name), Shelf> Shelves = new();

    // Info callbacks found on an SSL_CTX before this one (SslStream sets none), called after it.
    private static readonly ConcurrentDictionary<IntPtr, InfoCallback> Previous = new();

    // OpenSSL keeps a pointer to this: the delegate must live as long as the process.
    private static readonly InfoCallback OnInfo = Info;
    private static readonly IntPtr InfoPointer = Marshal.GetFunctionPointerForDelegate(OnInfo);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void InfoCallback(IntPtr ssl, int where, int value);

    /// <summary>Offers kept tickets to the handshakes <paramref name="context"/> starts from now on; forgets what was
    /// kept for an earlier SSL_CTX at the same address (freed, its tickets made with another client certificate).</summary>
    internal static void Install(IntPtr context)
    {
        foreach (var key in Shelves.Keys.Where(key => key.Context == context))
        {
            if (Shelves.TryRemove(key, out var shelf))
            {
                shelf.Clear();
            }
        }

        var current = GetInfoCallback(context);
        if (current == InfoPointer)
        {
            return;
        }

        if (current != IntPtr.Zero)
        {
            Previous[context] = Marshal.GetDelegateForFunctionPointer<InfoCallback>(current);
        }

        SetInfoCallback(context, InfoPointer);
    }

    /// <summary>Takes a reference to <paramref name="session"/> for <see cref="Add"/>, before the caller hands the session
    /// on to whoever may free it; zero (nothing taken) unless it is a TLS 1.3 session with a ticket.</summary>
    internal static IntPtr Reserve(IntPtr session) =>
        GetProtocolVersion(session) == Tls13 && HasTicket(session) == 1 && UpRef(session) == 1 ? session : IntPtr.Zero;

    /// <summary>Keeps <paramref name="reserved"/> (from <see cref="Reserve"/>), a new session of <paramref name="ssl"/>'s
    /// connection.</summary>
    internal static void Add(IntPtr ssl, IntPtr reserved)
    {
        if (reserved != IntPtr.Zero)
        {
            Shelves.GetOrAdd((OpenSslSessions.GetSslCtx(ssl), ServerName(ssl)), static _ => new Shelf()).Add(reserved);
        }
    }

    // info_callback: at the start of each handshake, before OpenSSL writes the ClientHello. Exceptions must not reach
    // OpenSSL: the handshake then goes on with SslStream's session.
    private static void Info(IntPtr ssl, int where, int value)
    {
        try
        {
            if ((where & HandshakeStart) != 0
                && Shelves.TryGetValue((OpenSslSessions.GetSslCtx(ssl), ServerName(ssl)), out var shelf)
                && shelf.Take(DateTimeOffset.UtcNow.ToUnixTimeSeconds()) is var session && session != IntPtr.Zero)
            {
                _ = SetSession(ssl, session); // the connection takes its own reference
                OpenSslSessions.Free(session);
            }

            if (!Previous.IsEmpty && Previous.TryGetValue(OpenSslSessions.GetSslCtx(ssl), out var previous))
            {
                previous(ssl, where, value);
            }
        }
        catch (Exception)
        {
            // SslStream's choice of session stands.
        }
    }

    private static string ServerName(IntPtr ssl) => Marshal.PtrToStringUTF8(GetServerName(ssl, HostName)) ?? "";

    /// <summary>The tickets of one SSL_CTX and server name, oldest first.</summary>
    private sealed class Shelf
    {
        private readonly Lock _gate = new();
        private readonly List<(IntPtr Session, bool Offered)> _tickets = [];

        /// <summary>Keeps <paramref name="session"/>, whose reference the shelf now owns.</summary>
        public void Add(IntPtr session)
        {
            lock (_gate)
            {
                _tickets.Add((session, false));
                if (_tickets.Count > Depth)
                {
                    OpenSslSessions.Free(_tickets[0].Session);
                    _tickets.RemoveAt(0);
                }
            }
        }

        /// <summary>A session for a handshake starting at <paramref name="now"/> (Unix seconds), which the caller owns:
        /// a copy of the newest ticket not offered yet, or else of the newest one; zero when none is left within its
        /// lifetime.</summary>
        public IntPtr Take(long now)
        {
            lock (_gate)
            {
                for (var i = _tickets.Count - 1; i >= 0; i--)
                {
                    var (session, offered) = _tickets[i];
                    if (now > OpenSslSessions.GetTime(session) + OpenSslSessions.TicketLifetime(session))
                    {
                        OpenSslSessions.Free(session);
                        _tickets.RemoveAt(i);
                    }
                    else if (!offered)
                    {
                        _tickets[i] = (session, true);
                        return Copy(session);
                    }
                }

                return _tickets.Count == 0 ? IntPtr.Zero : Copy(_tickets[^1].Session);
            }
        }

        public void Clear()
        {
            lock (_gate)
            {
                foreach (var (session, _) in _tickets)
                {
                    OpenSslSessions.Free(session);
                }

                _tickets.Clear();
            }
        }

        private static IntPtr Copy(IntPtr session) => OpenSslSessions.Copy(session, OpenSslSessions.OfSession(session));
    }

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_get_info_callback")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr GetInfoCallback(IntPtr ctx);

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_set_info_callback")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void SetInfoCallback(IntPtr ctx, IntPtr callback);

    [DllImport("libssl.so.3", EntryPoint = "SSL_set_session")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetSession(IntPtr ssl, IntPtr session);

    [DllImport("libssl.so.3", EntryPoint = "SSL_get_servername")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr GetServerName(IntPtr ssl, int type);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_up_ref")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int UpRef(IntPtr session);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_get_protocol_version")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetProtocolVersion(IntPtr session);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_is_resumable")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int IsResumable(IntPtr session);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_has_ticket")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int HasTicket(IntPtr session);
}
