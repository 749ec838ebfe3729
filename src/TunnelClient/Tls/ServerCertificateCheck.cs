using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Tls;

namespace Tunnel.Client.Tls;

/// <summary>Judges the server certificate of one connection: chain to the configured CA, then the expected name
/// (checked here rather than by SslStream, because the SNI sent may be a cover name). Remembers the verdict so
/// that a failure can be explained, to the log and to Squid.</summary>
internal sealed class ServerCertificateCheck(ClientTlsState state, TimeProvider time)
{
    public PeerVerdict? Verdict { get; private set; }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        var leaf = certificate as X509Certificate2;
        var verdict = PeerVerdict.FromChain(leaf, chain, errors & ~SslPolicyErrors.RemoteCertificateNameMismatch, "server", time.GetUtcNow());
        if (verdict.Ok && !leaf!.MatchesHostname(state.ExpectedName, allowWildcards: true, allowCommonName: false))
        {
            var names = CertificateInfo.SubjectAlternativeNames(leaf);
            verdict = new PeerVerdict(PeerProblem.NameMismatch,
                $"the server certificate {CertificateInfo.ShortName(leaf)} is for [{string.Join(", ", names)}], not '{state.ExpectedName}' " +
                "(set serverName to a name in the certificate, or reissue it)", CertificateInfo.ShortName(leaf));
        }
        else if (verdict.Ok && state.Pins.Count > 0 && !MatchesPin(chain))
        {
            verdict = new PeerVerdict(PeerProblem.PinMismatch,
                $"the server certificate {verdict.PeerName} (spki {CertificateInfo.SpkiPin(leaf!)}) matches none of the configured serverPins", verdict.PeerName);
        }
        else if (verdict.Problem == PeerProblem.UnknownIssuer && leaf is not null)
        {
            verdict = verdict with
            {
                Reason = $"the network may intercept TLS: the server presented a certificate for '{leaf.Subject}' issued by '{leaf.Issuer}', " +
                    "which does not chain to the configured CA",
            };
        }

        Verdict = verdict;
        return verdict.Ok;
    }

    private bool MatchesPin(X509Chain? chain)
    {
        if (chain is null)
        {
            return false;
        }

        foreach (var element in chain.ChainElements)
        {
            var hash = CertificateInfo.SpkiHash(element.Certificate);
            if (state.Pins.Any(pin => pin.AsSpan().SequenceEqual(hash)))
            {
                return true;
            }
        }

        return false;
    }
}
