using System.Net.Security;
using System.Runtime.InteropServices;

namespace Tunnel.Tls;

/// <summary>Issues a TLS 1.3 session ticket on one server connection (<c>SSL_new_session_ticket</c>): OpenSSL sends it
/// ahead of the next bytes the server writes. With <see cref="OpenSslPolicy"/>'s <c>NumTickets = 0</c> the handshake
/// itself issues none, so tunnel-server calls this once it has accepted the client's certificate, and a client it
/// refuses (a prober, the decoy's visitors) gets no ticket.</summary>
/// <remarks>SslStream validates the client certificate after OpenSSL has finished the handshake, and OpenSSL issues its
/// default tickets (two) at that point, before the validation callback could stop them: hence none by default and one
/// on acceptance. Same conditions as <see cref="OpenSslBuffers"/> (Linux, .NET 10's SslStream field, OpenSSL 3 alone);
/// elsewhere it does nothing.</remarks>
internal static class OpenSslTickets
{
    /// <summary>True when a ticket will go out with the next write.</summary>
    public static bool Issue(SslStream tls)
    {
        var resolution = OpenSslBuffers.Resolved(); // cached once OpenSSL is loaded: no /proc read per handshake
        if (resolution.Field?.GetValue(tls) is not SafeHandle { IsInvalid: false } ssl || ssl.GetType().Name != "SafeSslHandle")
        {
            return false;
        }

        var added = false;
        try
        {
            ssl.DangerousAddRef(ref added);
            return NewSessionTicket(ssl.DangerousGetHandle()) == 1;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                ssl.DangerousRelease();
            }
        }
    }

    [DllImport("libssl.so.3", EntryPoint = "SSL_new_session_ticket")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int NewSessionTicket(IntPtr ssl);
}
