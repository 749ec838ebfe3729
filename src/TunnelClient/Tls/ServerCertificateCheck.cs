using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Tls;

namespace Tunnel.Client.Tls;

/// <summary>Judges the server certificate of one connection: chain to the configured CA, then the expected name
/// (checked here rather than by SslStream, because the SNI sent may be a cover name), then the pins. Remembers the
/// verdict so that a failure can be explained, to the log and to Squid; <c>diagnose</c> also keeps the presented
/// chain. A handshake that resumed a session kept by <see cref="VerifiedServerSessions"/> brings no certificate: the
/// chain its full handshake verified is judged again instead, on the same points but the signatures.</summary>
internal sealed class ServerCertificateCheck(ClientTlsState state, TimeProvider time, bool capture = false)
{
    public PeerVerdict? Verdict { get; private set; }

    /// <summary>The certificates the server presented (leaf first), when capturing.</summary>
    public IReadOnlyList<X509Certificate2> Presented { get; private set; } = [];

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        var tls = sender as SslStream;
        if (certificate is null && tls is not null && VerifiedServerSessions.Resumed(tls) is { } resumed)
        {
            // A session resumed without the server's certificate: its full handshake verified this chain; judged again
            // here under the current trust, signatures not checked again (VerifiedServerSessions).
            var rooted = state.Trust?.FindRoot(resumed.Root) is not null;
            Verdict = ForThisServer(PeerVerdict.FromVerifiedChain(resumed, rooted, "server", time.GetUtcNow(), state.Judged), resumed.Leaf, resumed.Certificates);
            return Verdict.Ok;
        }

        var leaf = certificate as X509Certificate2;
        if (capture && leaf is not null)
        {
            // SslStream disposes these after the callback: keep copies.
            var presented = new List<X509Certificate2> { X509CertificateLoader.LoadCertificate(leaf.RawData) };
            foreach (var extra in chain?.ChainPolicy.ExtraStore ?? [])
            {
                // The store holds everything the server sent, the leaf included.
                if (extra.Thumbprint != leaf.Thumbprint)
                {
                    presented.Add(X509CertificateLoader.LoadCertificate(extra.RawData));
                }
            }

            Presented = presented;
        }

        var verdict = PeerVerdict.FromChain(leaf, chain, errors & ~SslPolicyErrors.RemoteCertificateNameMismatch, "server", time.GetUtcNow(), state.Judged);
        verdict = ForThisServer(verdict, leaf, chain?.ChainElements.Select(static e => e.Certificate) ?? []);
        if (verdict.Problem == PeerProblem.UnknownIssuer && leaf is not null)
        {
            var hint = PeerVerdict.MissingIssuerHint(leaf, chain, "server");
            verdict = IsForThisServer(leaf)
                ? verdict with
                {
                    Problem = PeerProblem.Intercepted,
                    Reason = $"the network intercepts TLS: the server presented a certificate for '{leaf.Subject}' issued by '{leaf.Issuer}', " +
                        "which does not chain to the configured CA" + hint,
                }
                : verdict with
                {
                    Reason = $"the server presented a certificate for '{leaf.Subject}' issued by '{leaf.Issuer}', which does not chain to the " +
                        "configured CA and is not for this server's name (a wrong server address, or the network may intercept TLS)" + hint,
                };
        }
        else if (verdict.Ok && tls is not null && !capture && state.Trust is { } trust && VerifiedChain.IsTrusted(chain, errors))
        {
            // Trusted by the configured CA: the sessions of this connection may be resumed without verifying it again.
            VerifiedServerSessions.Remember(tls, VerifiedChain.From(chain!, trust));
        }

        Verdict = verdict;
        return verdict.Ok;
    }

    /// <summary>A verdict on the chain, then whether its leaf is for <see cref="ClientTlsState.ExpectedName"/> and one of
    /// its certificates matches a pin.</summary>
    private PeerVerdict ForThisServer(PeerVerdict verdict, X509Certificate2? leaf, IEnumerable<X509Certificate2> chain)
    {
        if (!verdict.Ok)
        {
            return verdict;
        }

        if (!state.NamedAsExpected.GetOrAdd(leaf!, state.ExpectedName, static (c, name) => c.MatchesHostname(name, allowWildcards: true, allowCommonName: false)))
        {
            var names = CertificateInfo.SubjectAlternativeNames(leaf!);
            return new PeerVerdict(PeerProblem.NameMismatch,
                $"the server certificate {CertificateInfo.ShortName(leaf)} is for [{string.Join(", ", names)}], not '{state.ExpectedName}' " +
                "(set serverName to a name in the certificate, or reissue it)", CertificateInfo.ShortName(leaf));
        }

        if (state.Pins.Count > 0 && !chain.Any(MatchesPin))
        {
            return new PeerVerdict(PeerProblem.PinMismatch,
                $"the server certificate {verdict.PeerName} (spki {CertificateInfo.SpkiPin(leaf!)}) matches none of the configured serverPins", verdict.PeerName);
        }

        return verdict;
    }

    /// <summary>A certificate from an unknown CA made out to the name we asked for (or the SNI we sent) is what a
    /// TLS-intercepting middlebox forges on the fly.</summary>
    private bool IsForThisServer(X509Certificate2 leaf) =>
        leaf.MatchesHostname(state.ExpectedName, allowWildcards: true, allowCommonName: true) ||
        (state.TargetHost.Length > 0 && leaf.MatchesHostname(state.TargetHost, allowWildcards: true, allowCommonName: true));

    private bool MatchesPin(X509Certificate2 certificate)
    {
        var hash = CertificateInfo.SpkiHash(certificate);
        return state.Pins.Any(pin => pin.AsSpan().SequenceEqual(hash));
    }
}
