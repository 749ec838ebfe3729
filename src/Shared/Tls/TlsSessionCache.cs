namespace Tunnel.Tls;

/// <summary>The server's cache of resumable TLS sessions (stunnel's <c>sessionCacheSize</c> and
/// <c>sessionCacheTimeout</c>, same defaults). On, a session ticket is a 32-byte ID into this cache: a resumed
/// handshake looks the session up instead of decrypting and decoding it (the client certificate included) out of a
/// self-contained ticket, which at one new connection at a time was the largest single cost of a new connection on the
/// server. Sessions are kept by <see cref="VerifiedSessions"/>: about 0.5 KiB each, without the client certificate, with
/// the chain the full handshake verified, until they expire or are pushed out by newer ones.</summary>
/// <param name="Size">Sessions kept; 0 turns the cache off (self-contained encrypted tickets, nothing held).</param>
/// <param name="Timeout">How long a session stays resumable.</param>
internal sealed record TlsSessionCache(int Size, TimeSpan Timeout)
{
    public static TlsSessionCache Default { get; } = new(Common.Defaults.SessionCacheSize, Common.Durations.Parse(Common.Defaults.SessionCacheTimeout));

    public bool Enabled => Size > 0;
}
