using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Tls;

namespace Tunnel.Server.Tls;

/// <summary>Judges one connection's client certificate during the handshake: chain to the CA (validity, usage),
/// then the CRL, then the allow-list. Remembers why, so a refusal is logged with its real reason.</summary>
/// <param name="state">The TLS policy snapshot of this handshake.</param>
/// <param name="time">Clock for validity dates.</param>
/// <param name="completeRefusedHandshakes">With a decoy configured: let the handshake of a refused client complete
/// (the verdict is recorded and the connection routed by it afterwards) instead of failing it, so the refusal does
/// not show on the wire.</param>
internal sealed class ClientCertificateCheck(ServerTlsState state, TimeProvider time, bool completeRefusedHandshakes = false)
{
    public PeerVerdict? Verdict { get; private set; }

    /// <summary>Whether the judged handshake resumed a TLS session (read with the ticket, in one look-up).</summary>
    public bool Resumed { get; private set; }

    /// <summary>The CA certificates between the client's certificate and the trusted root, as the handshake built
    /// them (copies), so that the certificate can be judged again under a reloaded policy.</summary>
    public IReadOnlyList<X509Certificate2> Intermediates { get; private set; } = [];

    /// <summary>Judges a certificate accepted earlier (a multiplexed connection's) under <paramref name="current"/>:
    /// a reloaded CRL or allow-list, or the certificate's own expiry since.</summary>
    public static PeerVerdict Recheck(ServerTlsState current, X509Certificate2 leaf, IReadOnlyList<X509Certificate2> intermediates, TimeProvider time)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy = current.ChainPolicy.Clone();
        chain.ChainPolicy.VerificationTime = time.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.ExtraStore.AddRange(intermediates.ToArray());
        var errors = chain.Build(leaf) ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateChainErrors;
        var check = new ClientCertificateCheck(current, time);
        check.Validate(check, leaf, chain, errors);
        return check.Verdict!;
    }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (chain is not null && chain.ChainElements.Count > 2)
        {
            Intermediates = [.. chain.ChainElements.Skip(1).SkipLast(1).Select(e => X509CertificateLoader.LoadCertificate(e.Certificate.RawData))];
        }

        var leaf = certificate as X509Certificate2;
        var verdict = PeerVerdict.FromChain(leaf, chain, errors, "client", time.GetUtcNow(), state.Judged);
        if (verdict.Ok && state.Revocation is { } revocation && chain is not null && revocation.Check(chain) is { } revoked)
        {
            verdict = new PeerVerdict(PeerProblem.Revoked, $"the client certificate {verdict.PeerName} is refused: {revoked}", verdict.PeerName);
        }

        if (verdict.Ok && !state.AllowList.Allows(leaf!))
        {
            verdict = new PeerVerdict(PeerProblem.NotAllowed,
                $"the client certificate {verdict.PeerName} is valid but not in the allow-list " +
                $"(its identities: {string.Join(", ", CertificateInfo.SubjectAlternativeNames(leaf!).Prepend(verdict.PeerName))}; spki:{CertificateInfo.SpkiPin(leaf!)})",
                verdict.PeerName);
        }

        Verdict = verdict;
        if (sender is SslStream tls)
        {
            // The handshake issued no session ticket (OpenSslPolicy): one for an accepted client only.
            Resumed = OpenSslTickets.Settle(tls, state.SessionCache, accepted: verdict.Ok);
        }

        return verdict.Ok || completeRefusedHandshakes;
    }
}
