using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Client.Options;
using Tunnel.Tls;

namespace Tunnel.Client.Tls;

/// <summary>One immutable snapshot of a client tunnel's TLS material: the certificate it presents and the trust it
/// places in servers. Swapped as a whole on reload.</summary>
internal sealed class ClientTlsState
{
    private readonly List<SslApplicationProtocol>? _alpn;

    private ClientTlsState(ClientTunnelOptions options, TlsIdentity? identity, TrustBundle? trust)
    {
        Identity = identity;
        Trust = trust;
        ExpectedName = options.ServerName;
        TargetHost = options.Sni;
        Protocols = options.MinVersion.ToProtocols();
        ChainPolicy = trust?.CreatePolicy(KeyUsages.ServerAuth) ?? TrustBundle.CreateSystemPolicy(KeyUsages.ServerAuth);
        _alpn = ClientOptionsReader.ToApplicationProtocols(options.Alpn);
        Pins = options.ServerPins;
    }

    /// <summary>SPKI pins of the server or one of its CAs; empty means no pinning.</summary>
    public IReadOnlyList<byte[]> Pins { get; }

    public TlsIdentity? Identity { get; }

    public TrustBundle? Trust { get; }

    /// <summary>The name the server certificate must match; independent of the SNI sent.</summary>
    public string ExpectedName { get; }

    /// <summary>The SNI sent; empty sends none.</summary>
    public string TargetHost { get; }

    public SslProtocols Protocols { get; }

    public X509ChainPolicy ChainPolicy { get; }

    /// <summary>What each server certificate seen on this snapshot says of itself (usage, name), once per certificate.</summary>
    public CertificateMemo<PeerVerdict> Judged { get; } = new();

    /// <summary>Whether each server certificate seen on this snapshot is for <see cref="ExpectedName"/>, once per certificate.</summary>
    public CertificateMemo<bool> NamedAsExpected { get; } = new();

    public static ClientTlsState Load(ClientTunnelOptions options, TimeProvider time)
    {
        OpenSslPolicy.EnsureApplied(); // once per process, before the first handshake
        return new(
            options,
            options.Identity.IsConfigured ? IdentityLoader.Load(options.Identity, time) : null,
            options.CaPath is null ? null : TrustBundle.Load(options.CaPath));
    }

    public SslClientAuthenticationOptions CreateOptions(ServerCertificateCheck check) => new()
    {
        TargetHost = TargetHost,
        EnabledSslProtocols = Protocols,
        ApplicationProtocols = _alpn,
        ClientCertificateContext = Identity?.Context,
        CertificateChainPolicy = ChainPolicy,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        AllowRenegotiation = false,
        RemoteCertificateValidationCallback = check.Validate,
    };
}
