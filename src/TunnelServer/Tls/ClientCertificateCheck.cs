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

    /// <summary>Whether the judged handshake resumed a session (read with the ticket, in one look-up).</summary>
    public bool Resumed { get; private set; }

    /// <summary>The accepted client's chain, as its full handshake verified it (copies), so that the certificate can be
    /// judged again under a reloaded policy; null when the client was refused.</summary>
    public VerifiedChain? Verified { get; private set; }

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
        var tls = sender as SslStream;
        var now = time.GetUtcNow();
        PeerVerdict verdict;
        VerifiedChain? verified;
        if (certificate is null && tls is not null && VerifiedSessions.TakeVerifiedChain(tls) is { } resumed)
        {
            // A session resumed without its certificate: its full handshake verified this chain; judged again here
            // under the current policy, signatures not checked again (VerifiedSessions).
            verified = resumed;
            verdict = PeerVerdict.FromVerifiedChain(resumed, state.ClientCa.FindRoot(resumed.Root) is not null, "client", now, state.Judged);
        }
        else
        {
            var leaf = certificate as X509Certificate2;
            verdict = PeerVerdict.FromChain(leaf, chain, errors, "client", now, state.Judged);
            verified = verdict.Ok && VerifiedChain.IsTrusted(chain, errors) ? VerifiedChain.From(chain!, state.ClientCa) : null;
        }

        if (verdict.Ok && verified is null)
        {
            verdict = new PeerVerdict(PeerProblem.Invalid, $"the client certificate {verdict.PeerName} came without the chain it was verified with", verdict.PeerName);
        }

        if (verdict.Ok && state.Revocation is { } revocation && revocation.Check(verified!.Certificates) is { } revoked)
        {
            verdict = new PeerVerdict(PeerProblem.Revoked, $"the client certificate {verdict.PeerName} is refused: {revoked}", verdict.PeerName);
        }

        if (verdict.Ok && !state.AllowList.Allows(verified!.Leaf))
        {
            var leaf = verified.Leaf;
            verdict = new PeerVerdict(PeerProblem.NotAllowed,
                $"the client certificate {verdict.PeerName} is valid but not in the allow-list " +
                $"(its identities: {string.Join(", ", CertificateInfo.SubjectAlternativeNames(leaf).Prepend(verdict.PeerName))}; spki:{CertificateInfo.SpkiPin(leaf)})",
                verdict.PeerName);
        }

        Verdict = verdict;
        Verified = verdict.Ok ? verified : null;
        if (tls is not null)
        {
            // The handshake issued no session ticket (OpenSslPolicy): one for an accepted client's full handshake only.
            Resumed = OpenSslTickets.Settle(tls, state.SessionCache, accepted: verdict.Ok, Verified);
        }

        return verdict.Ok || completeRefusedHandshakes;
    }
}
