using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Server.Options;
using Tunnel.Tls;

namespace Tunnel.Server.Tls;

/// <summary>One immutable snapshot of a server tunnel's TLS material: its identity and the trust it places in
/// clients. Swapped as a whole on reload.</summary>
internal sealed class ServerTlsState
{
    private ServerTlsState(TlsIdentity identity, TrustBundle clientCa, SslProtocols protocols)
    {
        Identity = identity;
        ClientCa = clientCa;
        Protocols = protocols;
        ChainPolicy = clientCa.CreatePolicy(KeyUsages.ClientAuth);
    }

    public TlsIdentity Identity { get; }

    public TrustBundle ClientCa { get; }

    public SslProtocols Protocols { get; }

    /// <summary>Shared by every handshake on this snapshot; SslStream clones it per validation.</summary>
    public X509ChainPolicy ChainPolicy { get; }

    public static ServerTlsState Load(ServerTunnelOptions options, TimeProvider time) => new(
        IdentityLoader.Load(options.Identity, time),
        TrustBundle.Load(options.ClientCaPath),
        options.MinVersion.ToProtocols());

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
    };
}
