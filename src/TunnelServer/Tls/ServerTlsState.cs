using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Server.Options;
using Tunnel.Tls;

namespace Tunnel.Server.Tls;

/// <summary>One immutable snapshot of a server tunnel's TLS policy: its identity, the CA clients must chain to, the
/// CRL and the allow-list. Swapped as a whole on reload; a handshake uses the snapshot it started with.</summary>
internal sealed class ServerTlsState
{
    private readonly List<SslApplicationProtocol>? _alpn;

    private ServerTlsState(TlsIdentity identity, TrustBundle clientCa, RevocationChecker? revocation, PeerAllowList allowList, SslProtocols protocols,
        IReadOnlyList<string> alpn, TlsSessionCache sessionCache)
    {
        _alpn = alpn.Count == 0 ? null : alpn.Select(p => new SslApplicationProtocol(p)).ToList();
        Identity = identity;
        ClientCa = clientCa;
        Revocation = revocation;
        AllowList = allowList;
        Protocols = protocols;
        SessionCache = sessionCache;
        ChainPolicy = clientCa.CreatePolicy(KeyUsages.ClientAuth);
    }

    public TlsIdentity Identity { get; }

    public TrustBundle ClientCa { get; }

    public RevocationChecker? Revocation { get; }

    public PeerAllowList AllowList { get; }

    public SslProtocols Protocols { get; }

    /// <summary>Where an accepted client's session ticket points (OpenSslTickets).</summary>
    public TlsSessionCache SessionCache { get; }

    /// <summary>Shared by every handshake on this snapshot; SslStream clones it per validation.</summary>
    public X509ChainPolicy ChainPolicy { get; }

    /// <summary>What each client certificate seen on this snapshot says of itself (usage, name), once per certificate.</summary>
    public CertificateMemo<PeerVerdict> Judged { get; } = new();

    /// <summary>Loads every file the policy names. Throws <see cref="CertificateLoadException"/> saying which file
    /// is unusable and why.</summary>
    public static ServerTlsState Load(ServerTunnelOptions options, TimeProvider time)
    {
        OpenSslPolicy.EnsureApplied(); // once per process, before the first handshake
        var identity = IdentityLoader.Load(options.Identity, time);
        var clientCa = TrustBundle.Load(options.ClientCaPath);
        var revocation = options.CrlPath is null ? null : RevocationChecker.Load(options.CrlPath, clientCa, time.GetUtcNow());
        return new ServerTlsState(identity, clientCa, revocation, LoadAllowList(options), options.MinVersion.ToProtocols(), options.Alpn,
            options.SessionCache);
    }

    private static PeerAllowList LoadAllowList(ServerTunnelOptions options)
    {
        var entries = options.Allow.AsEnumerable();
        if (options.AllowFile is { } file)
        {
            try
            {
                entries = entries.Concat(File.ReadAllLines(file));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CertificateLoadException($"cannot read allow-list '{file}': {ex.Message}", ex);
            }
        }

        var errors = new List<string>();
        var list = PeerAllowList.Parse(entries, errors);
        return errors.Count == 0
            ? list
            : throw new CertificateLoadException($"allow-list{(options.AllowFile is null ? "" : $" '{options.AllowFile}'")}: {string.Join("; ", errors)}");
    }

    /// <summary>Handshake options for one connection; <paramref name="check"/> records that connection's verdict.</summary>
    public SslServerAuthenticationOptions CreateOptions(ClientCertificateCheck check) => new()
    {
        ServerCertificateContext = Identity.Context,
        ClientCertificateRequired = true,
        EnabledSslProtocols = Protocols,
        CertificateChainPolicy = ChainPolicy,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        AllowRenegotiation = false,
        RemoteCertificateValidationCallback = check.Validate,
        // The server picks the first of its protocols the client offers; a client that offers ALPN but none of them
        // fails the handshake (RFC 7301 §3.2, no_application_protocol). Clients offering none are unaffected.
        ApplicationProtocols = _alpn,
    };
}
