using System.Collections.Concurrent;
using System.Net.Security;
using System.Runtime.InteropServices;
using Tunnel.Tls;

namespace Tunnel.Client.Tls;

/// <summary>tunnel-client's side of skipping the chain build on a resumed handshake, as tunnel-server does with
/// <see cref="VerifiedSessions"/>. SslStream verifies the server's chain after every handshake, resumed or not, where
/// OpenSSL, stunnel and Go verify it on the full handshake only: with the warm pool resuming one session per new
/// connection, that was two ECDSA signature checks (the server certificate's, and its CA's self-signature, which .NET
/// always checks), about 150 µs of CPU per connection.</summary>
/// <remarks>
/// <para>SslStream keeps the client's sessions itself (one per server name, in each SSL_CTX, which it shares between
/// the client streams of the process with the same client certificate and the same protocol set). This puts a callback
/// in front of its <c>new_session_cb</c>: a session made on a connection whose server chain was verified and accepted
/// (<see cref="Remember"/>) is handed to SslStream's cache as a copy without the server's certificate, carrying that
/// chain (<see cref="VerifiedChain"/>, an ex_data slot OpenSSL copies to the sessions it makes from this one). Resumed,
/// it gives SslStream no certificate to verify, and <see cref="Resumed"/> hands the validation callback the stored chain
/// instead, which <see cref="ServerCertificateCheck"/> judges again under the current trust: root still trusted, dates,
/// expected name, pins (signatures and the certificates' contents cannot have changed; the PSK binder proves the server
/// is the one that verified chain came from).</para>
/// <para>Every TLS 1.3 session handed to SslStream is also kept by <see cref="TicketStock"/>, which gives each handshake
/// a ticket of its own (OpenSSL retires a resumed session, and SslStream hands one session to every handshake).</para>
/// <para>Sessions of every other connection go to SslStream unchanged (certificate kept, verified in full when
/// resumed): connections made with the system's trust (no <c>ca</c>), TLS 1.2 ones (OpenSSL hands their session over
/// as the handshake ends, before SslStream has judged the server), and any other client stream on the same
/// SSL_CTX. A stream that resumed a session stored without its certificate and does not judge its server through
/// <see cref="ServerCertificateCheck"/> would be refused (no certificate), not let through; in tunnel-client every
/// connection to a tunnel-server goes through it, and <c>diagnose</c> runs in a process of its own. Same conditions as
/// <see cref="OpenSslBuffers"/>; elsewhere nothing is installed and every resumption is verified in full, as
/// before.</para>
/// </remarks>
internal static class VerifiedServerSessions
{
    // OpenSSL keeps a pointer to this: the delegate must live as long as the process.
    private static readonly OpenSslSessions.NewSessionCallback OnNew = Stored;
    private static readonly IntPtr NewPointer = Marshal.GetFunctionPointerForDelegate(OnNew);

    // SslStream's own new_session_cb of each SSL_CTX this was installed on, called with every session.
    private static readonly ConcurrentDictionary<IntPtr, OpenSslSessions.NewSessionCallback> Forward = new();

    /// <summary>Marks <paramref name="tls"/>'s connection (a full handshake whose server was just accepted) so that the
    /// sessions it receives are kept without the server's certificate and with <paramref name="chain"/>.
    /// Nothing is done where this runtime does not allow it, or where SslStream keeps no sessions for the connection.</summary>
    public static void Remember(SslStream tls, VerifiedChain chain) =>
        _ = OpenSslBuffers.WithSsl(tls, chain, false, static (ssl, chain) =>
        {
            if (Install(ssl))
            {
                OpenSslSessions.Attach(ssl, chain);
            }

            return true;
        });

    /// <summary>The chain verified by the full handshake of the session <paramref name="tls"/> resumed, when it was
    /// stored here without its certificate; null otherwise.</summary>
    public static VerifiedChain? Resumed(SslStream tls) =>
        OpenSslBuffers.WithSsl(tls, 0, (VerifiedChain?)null, static (ssl, _) =>
            OpenSslTickets.SessionReused(ssl) == 1 && OpenSslSessions.GetSession(ssl) is var session && session != IntPtr.Zero
                ? OpenSslSessions.OfSession(session)
                : null);

    /// <summary>Puts <see cref="Stored"/> in front of SslStream's <c>new_session_cb</c> on <paramref name="ssl"/>'s
    /// SSL_CTX, once; false when the SSL_CTX keeps no sessions (resumption off for it).</summary>
    private static bool Install(IntPtr ssl)
    {
        var context = OpenSslSessions.GetSslCtx(ssl);
        var current = OpenSslSessions.GetNewCallback(context);
        if (current == NewPointer)
        {
            return true;
        }

        if (current == IntPtr.Zero)
        {
            return false;
        }

        // Before the callback is set, so that it always finds where to forward. A freed SSL_CTX's address taken by a
        // new one is seen here again (its callback is SslStream's, not this one) and overwritten.
        Forward[context] = Marshal.GetDelegateForFunctionPointer<OpenSslSessions.NewSessionCallback>(current);
        TicketStock.Install(context);
        OpenSslSessions.SetNewCallback(context, NewPointer);
        return true;
    }

    // new_session_cb: a TLS 1.3 ticket arrived (or a TLS 1.2 handshake ended). Returns what SslStream's callback returns
    // for the session it is given (1: it keeps the reference); for a copy, 0 (OpenSSL drops its reference to the
    // original) after freeing the copy if SslStream did not keep it. Exceptions must not reach OpenSSL.
    private static int Stored(IntPtr ssl, IntPtr session)
    {
        if (!Forward.TryGetValue(OpenSslSessions.GetSslCtx(ssl), out var forward))
        {
            return 0; // not resumable: the next connection makes a full handshake
        }

        var copy = IntPtr.Zero;
        try
        {
            // A full handshake's chain is on the connection; a resumed one's came with the session this one is made from.
            var chain = OpenSslSessions.Peek(ssl) ?? OpenSslSessions.OfSession(session);
            if (chain is not null && OpenSslSessions.HasPeer(session))
            {
                copy = OpenSslSessions.Copy(session, chain, withoutPeer: true);
            }
        }
        catch (Exception)
        {
            // Kept whole: its resumption is verified in full.
        }

        // Kept for later handshakes too (TicketStock), with a reference of its own taken before SslStream has it (which
        // may free it at once, replacing it with another connection's), and shown to handshakes only after (SslStream
        // writes the server name into it, which must not change under a handshake copying it).
        if (copy == IntPtr.Zero)
        {
            var reserved = TicketStock.Reserve(session);
            var kept = forward(ssl, session);
            TicketStock.Add(ssl, reserved);
            return kept;
        }

        var reservedCopy = TicketStock.Reserve(copy);
        if (forward(ssl, copy) == 0)
        {
            OpenSslSessions.Free(copy);
        }

        TicketStock.Add(ssl, reservedCopy);
        return 0;
    }
}
