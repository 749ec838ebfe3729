using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Tls;

namespace Tunnel.Server.Tls;

/// <summary>Judges one connection's client certificate during the handshake and remembers why, so a rejection is
/// logged with its real reason rather than "the remote certificate was rejected".</summary>
internal sealed class ClientCertificateCheck(TimeProvider time)
{
    public PeerVerdict? Verdict { get; private set; }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        var verdict = PeerVerdict.FromChain(certificate as X509Certificate2, chain, errors, "client", time.GetUtcNow());
        Verdict = verdict;
        return verdict.Ok;
    }
}
