using System.Formats.Asn1;
using System.Runtime.InteropServices;

namespace Tunnel.Tls;

/// <summary>OpenSSL session plumbing for the session caches that skip verifying a resumed peer's chain again
/// (tunnel-server's <see cref="VerifiedSessions"/>, tunnel-client's <c>VerifiedServerSessions</c>): encoding a session
/// and taking the peer's certificate out of it, and hanging a <see cref="VerifiedChain"/> on a connection's SSL or on a
/// session (ex_data slots holding a GC handle that OpenSSL frees with the object, and copies with it).</summary>
/// <remarks>Same conditions as <see cref="OpenSslBuffers"/> (Linux, OpenSSL 3): callers reach the SSL through it.</remarks>
internal static class OpenSslSessions
{
    private const int ExIndexSsl = 0;        // CRYPTO_EX_INDEX_SSL
    private const int ExIndexSession = 2;    // CRYPTO_EX_INDEX_SSL_SESSION
    private const int PeerTag = 3;           // SSL_SESSION_ASN1: peer [3] EXPLICIT Certificate OPTIONAL

    // OpenSSL keeps pointers to these: the delegates must live as long as the process.
    private static readonly FreeCallback OnFree = Freed;
    private static readonly DupCallback OnDup = Duplicated;
    private static readonly Lazy<int> ConnectionSlot = new(() => NewSlot(ExIndexSsl));
    private static readonly Lazy<int> SessionSlot = new(() => NewSlot(ExIndexSession));

    /// <summary>OpenSSL's <c>new_session_cb</c>: returns 1 when the callee keeps the session's reference.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int NewSessionCallback(IntPtr ssl, IntPtr session);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void FreeCallback(IntPtr parent, IntPtr pointer, IntPtr data, int index, long argl, IntPtr argp);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int DupCallback(IntPtr to, IntPtr from, IntPtr pointer, int index, long argl, IntPtr argp);

    /// <summary>A session's encoding without its peer certificate: every field of the outer SEQUENCE but <c>[3]</c>.</summary>
    internal static byte[] WithoutPeer(byte[] session)
    {
        var reader = new AsnReader(session, AsnEncodingRules.DER);
        var fields = reader.ReadSequence();
        reader.ThrowIfNotEmpty();
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            while (fields.HasData)
            {
                var tag = fields.PeekTag();
                var field = fields.ReadEncodedValue();
                if (tag is not { TagClass: TagClass.ContextSpecific, TagValue: PeerTag })
                {
                    writer.WriteEncodedValue(field.Span);
                }
            }
        }

        return writer.Encode();
    }

    /// <summary><c>i2d_SSL_SESSION</c>, in one pass into a buffer OpenSSL allocates (two passes, measuring then writing,
    /// would overrun a buffer of the first length if the session changed in between).</summary>
    internal static byte[] Encode(IntPtr session)
    {
        var native = IntPtr.Zero;
        var length = EncodeSession(session, ref native);
        try
        {
            if (length <= 0 || native == IntPtr.Zero)
            {
                throw new InvalidOperationException("i2d_SSL_SESSION failed");
            }

            var bytes = new byte[length];
            Marshal.Copy(native, bytes, 0, length);
            return bytes;
        }
        finally
        {
            if (native != IntPtr.Zero)
            {
                CryptoFree(native, IntPtr.Zero, 0);
            }
        }
    }

    /// <summary><c>d2i_SSL_SESSION</c>: a new SSL_SESSION the caller owns, or zero.</summary>
    internal static IntPtr Decode(byte[] session)
    {
        var native = Marshal.AllocHGlobal(session.Length);
        try
        {
            Marshal.Copy(session, 0, native, session.Length);
            var cursor = native;
            return DecodeSession(IntPtr.Zero, ref cursor, session.Length);
        }
        finally
        {
            Marshal.FreeHGlobal(native);
        }
    }

    /// <summary>A new SSL_SESSION the caller owns, or zero: <paramref name="session"/> encoded and decoded anew (without
    /// the peer's certificate when <paramref name="withoutPeer"/>), carrying <paramref name="chain"/>. Marks OpenSSL keeps
    /// outside the encoding (a retired session's "not resumable") do not come along.</summary>
    internal static IntPtr Copy(IntPtr session, VerifiedChain? chain, bool withoutPeer = false)
    {
        var encoded = Encode(session);
        var copy = Decode(withoutPeer ? WithoutPeer(encoded) : encoded);
        if (copy != IntPtr.Zero && chain is not null)
        {
            AttachToSession(copy, chain);
        }

        return copy;
    }

    /// <summary>The session's ID (for a TLS 1.3 stateful ticket, the ticket).</summary>
    internal static byte[] Id(IntPtr session)
    {
        var pointer = GetSessionId(session, out var length);
        var id = new byte[length];
        Marshal.Copy(pointer, id, 0, (int)length);
        return id;
    }

    /// <summary>Gives the connection <paramref name="ssl"/> a chain (replacing any), until <see cref="Detach"/> or
    /// the connection is freed.</summary>
    internal static void Attach(IntPtr ssl, VerifiedChain chain)
    {
        _ = Detach(ssl);
        Hang(ssl, ConnectionSlot.Value, chain, SetExData);
    }

    /// <summary>Takes back the chain given to <paramref name="ssl"/>, or null.</summary>
    internal static VerifiedChain? Detach(IntPtr ssl)
    {
        var slot = GetExData(ssl, ConnectionSlot.Value);
        if (slot == IntPtr.Zero)
        {
            return null;
        }

        _ = SetExData(ssl, ConnectionSlot.Value, IntPtr.Zero);
        var handle = GCHandle.FromIntPtr(slot);
        var chain = handle.Target as VerifiedChain;
        handle.Free();
        return chain;
    }

    /// <summary>The chain given to <paramref name="ssl"/>, left in place (its sessions may need it again), or null.</summary>
    internal static VerifiedChain? Peek(IntPtr ssl) => Target(GetExData(ssl, ConnectionSlot.Value));

    /// <summary>Gives <paramref name="session"/> a chain; OpenSSL copies it to the sessions it makes from this one
    /// (a resumed connection's new tickets) and releases it when the session is freed.</summary>
    internal static void AttachToSession(IntPtr session, VerifiedChain chain) => Hang(session, SessionSlot.Value, chain, SetSessionExData);

    /// <summary>The chain given to <paramref name="session"/>, or null.</summary>
    internal static VerifiedChain? OfSession(IntPtr session) => Target(GetSessionExData(session, SessionSlot.Value));

    /// <summary>The lifetime in seconds the server gave the session's ticket (<c>SSL_SESSION_get_ticket_lifetime_hint</c>).</summary>
    internal static long TicketLifetime(IntPtr session) => (long)Math.Min(GetTicketLifetimeHint(session), (ulong)int.MaxValue);

    /// <summary>Whether <paramref name="session"/> holds the peer's certificate (<c>SSL_SESSION_get0_peer</c>).</summary>
    internal static bool HasPeer(IntPtr session) => GetPeer(session) != IntPtr.Zero;

    private static VerifiedChain? Target(IntPtr slot) => slot == IntPtr.Zero ? null : GCHandle.FromIntPtr(slot).Target as VerifiedChain;

    private static void Hang(IntPtr owner, int index, VerifiedChain chain, Func<IntPtr, int, IntPtr, int> set)
    {
        var handle = GCHandle.Alloc(chain);
        if (set(owner, index, GCHandle.ToIntPtr(handle)) != 1)
        {
            handle.Free();
        }
    }

    private static int NewSlot(int classIndex) =>
        NewExIndex(classIndex, 0, IntPtr.Zero, IntPtr.Zero, Marshal.GetFunctionPointerForDelegate(OnDup), Marshal.GetFunctionPointerForDelegate(OnFree));

    // free_func: the SSL or SSL_SESSION is freed; so is its handle (a chain never taken back).
    private static void Freed(IntPtr parent, IntPtr pointer, IntPtr data, int index, long argl, IntPtr argp)
    {
        if (pointer != IntPtr.Zero)
        {
            GCHandle.FromIntPtr(pointer).Free();
        }
    }

    // dup_func: OpenSSL copies the object (SSL_dup, which SslStream does not call); the copy gets a handle of its own to
    // the same chain, so that each free releases one handle.
    private static int Duplicated(IntPtr to, IntPtr from, IntPtr pointer, int index, long argl, IntPtr argp)
    {
        var slot = Marshal.ReadIntPtr(pointer);
        if (slot != IntPtr.Zero)
        {
            Marshal.WriteIntPtr(pointer, GCHandle.ToIntPtr(GCHandle.Alloc(GCHandle.FromIntPtr(slot).Target)));
        }

        return 1;
    }

    [DllImport("libssl.so.3", EntryPoint = "SSL_get_SSL_CTX")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern IntPtr GetSslCtx(IntPtr ssl);

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_sess_set_new_cb")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern void SetNewCallback(IntPtr ctx, IntPtr callback);

    [DllImport("libssl.so.3", EntryPoint = "SSL_CTX_sess_get_new_cb")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern IntPtr GetNewCallback(IntPtr ctx);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_get_time")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern long GetTime(IntPtr session);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_get_timeout")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern long GetTimeout(IntPtr session);

    [DllImport("libssl.so.3", EntryPoint = "i2d_SSL_SESSION")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int EncodeSession(IntPtr session, ref IntPtr cursor);

    [DllImport("libcrypto.so.3", EntryPoint = "CRYPTO_free")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void CryptoFree(IntPtr pointer, IntPtr file, int line);

    [DllImport("libssl.so.3", EntryPoint = "d2i_SSL_SESSION")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr DecodeSession(IntPtr reuse, ref IntPtr cursor, long length);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_get_id")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr GetSessionId(IntPtr session, out uint length);

    [DllImport("libssl.so.3", EntryPoint = "SSL_get_session")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern IntPtr GetSession(IntPtr ssl);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_free")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern void Free(IntPtr session);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_get_ticket_lifetime_hint")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern ulong GetTicketLifetimeHint(IntPtr session);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_get0_peer")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr GetPeer(IntPtr session);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_set_ex_data")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetSessionExData(IntPtr session, int index, IntPtr data);

    [DllImport("libssl.so.3", EntryPoint = "SSL_SESSION_get_ex_data")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr GetSessionExData(IntPtr session, int index);

    [DllImport("libssl.so.3", EntryPoint = "SSL_set_ex_data")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetExData(IntPtr ssl, int index, IntPtr data);

    [DllImport("libssl.so.3", EntryPoint = "SSL_get_ex_data")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr GetExData(IntPtr ssl, int index);

    [DllImport("libcrypto.so.3", EntryPoint = "CRYPTO_get_ex_new_index")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int NewExIndex(int classIndex, long argl, IntPtr argp, IntPtr newCallback, IntPtr dupCallback, IntPtr freeCallback);
}
