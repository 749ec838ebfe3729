using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tls;

/// <summary>The judgement on a peer's certificate and a one-line reason fit for a log line or an HTTP error.</summary>
/// <remarks>Holds the peer's name, not its certificate: SslStream disposes the certificate it hands to the
/// validation callback once a handshake fails, so anything needed later is captured while judging.</remarks>
internal sealed record PeerVerdict(PeerProblem Problem, string Reason, string PeerName = "-")
{
    public bool Ok => Problem == PeerProblem.None;

    public static PeerVerdict Trusted(X509Certificate2 certificate) => new(PeerProblem.None, "trusted", CertificateInfo.ShortName(certificate));

    /// <summary>Turns the chain .NET built under our policy into a verdict. <paramref name="role"/> is "server" or
    /// "client", for the wording. With <paramref name="memo"/>, a certificate whose chain is fine is judged on its own
    /// bytes (<see cref="UsageProblem"/>, its name) once per distinct certificate; the memo must be used with one role
    /// only.</summary>
    public static PeerVerdict FromChain(X509Certificate2? certificate, X509Chain? chain, SslPolicyErrors errors, string role, DateTimeOffset now,
        CertificateMemo<PeerVerdict>? memo = null)
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            return new PeerVerdict(PeerProblem.NoCertificate, $"the {role} presented no certificate");
        }

        if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) == 0)
        {
            return memo is null ? FromOwnBytes(certificate, role) : memo.GetOrAdd(certificate, role, FromOwnBytes);
        }

        var flags = X509ChainStatusFlags.NoError;
        if (chain is not null)
        {
            foreach (var status in chain.ChainStatus)
            {
                flags |= status.Status;
            }
        }

        var name = CertificateInfo.ShortName(certificate);
        if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
        {
            return OutOfDate(certificate, role, now, name);
        }

        if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
        {
            return UnknownIssuer(certificate, role, name, MissingIssuerHint(certificate, chain, role));
        }

        if ((flags & (X509ChainStatusFlags.NotValidForUsage | X509ChainStatusFlags.InvalidExtension)) != 0)
        {
            var usage = role == "server" ? "serverAuth" : "clientAuth";
            return new PeerVerdict(PeerProblem.WrongUsage, $"the {role} certificate {name} is not valid for TLS {role} authentication (extended key usage {usage} missing)", name);
        }

        if ((flags & X509ChainStatusFlags.NotSignatureValid) != 0)
        {
            return new PeerVerdict(PeerProblem.BadSignature, $"the {role} certificate {name} has an invalid signature", name);
        }

        if ((flags & X509ChainStatusFlags.Revoked) != 0)
        {
            return new PeerVerdict(PeerProblem.Revoked, $"the {role} certificate {name} is revoked", name);
        }

        var detail = chain is null ? "chain errors" : string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Distinct());
        return new PeerVerdict(PeerProblem.Invalid, $"the {role} certificate {name} is not valid: {detail}", name);
    }

    private static long _storedChainsJudged;

    /// <summary>Resumed handshakes judged by <see cref="FromVerifiedChain"/> since the process started, on either
    /// daemon (<c>tunnel_tls_resumed_stored_chain_total</c>): a build or runtime where the session caches silently stop
    /// keeping the verified chain shows 0 while <c>tunnel_tls_resumed_total</c> rises.</summary>
    public static long StoredChainsJudged => Interlocked.Read(ref _storedChainsJudged);

    /// <summary>Judges again a chain an earlier full handshake verified (a resumed session's): what can have changed
    /// since is whether its root is still trusted (<paramref name="rootTrusted"/>, after a reload) and the dates;
    /// the signatures and the certificates' contents cannot. Same reasons, in the same words, as <see cref="FromChain"/>.</summary>
    public static PeerVerdict FromVerifiedChain(VerifiedChain chain, bool rootTrusted, string role, DateTimeOffset now, CertificateMemo<PeerVerdict>? memo = null)
    {
        Interlocked.Increment(ref _storedChainsJudged);
        var leaf = chain.Leaf;
        if (!rootTrusted)
        {
            return UnknownIssuer(leaf, role, CertificateInfo.ShortName(leaf));
        }

        foreach (var certificate in chain.Certificates)
        {
            if (now.UtcDateTime < certificate.NotBefore.ToUniversalTime() || now.UtcDateTime > certificate.NotAfter.ToUniversalTime())
            {
                return OutOfDate(leaf, role, now, CertificateInfo.ShortName(leaf));
            }
        }

        return memo is null ? FromOwnBytes(leaf, role) : memo.GetOrAdd(leaf, role, FromOwnBytes);
    }

    /// <summary>The leaf or a CA certificate of its chain is outside its validity dates.</summary>
    private static PeerVerdict OutOfDate(X509Certificate2 certificate, string role, DateTimeOffset now, string name)
    {
        var expired = now.UtcDateTime > certificate.NotAfter.ToUniversalTime();
        var leafTimeValid = now.UtcDateTime >= certificate.NotBefore.ToUniversalTime() && !expired;
        if (!leafTimeValid)
        {
            return expired
                ? new PeerVerdict(PeerProblem.Expired, $"the {role} certificate {name} expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC", name)
                : new PeerVerdict(PeerProblem.NotYetValid, $"the {role} certificate {name} is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC (check the clocks)", name);
        }

        return new PeerVerdict(PeerProblem.Expired, $"a CA certificate in the chain of {name} is expired or not yet valid", name);
    }

    /// <summary>When the chain stops short of any root, the last certificate's issuer was neither sent nor in the CA
    /// file: a peer whose cert file leaves out its intermediate looks exactly like a stranger, so the reason says both.
    /// Nothing a certificate points to is fetched (its issuer, OCSP or CRL URLs: every chain policy disables downloads).
    /// Empty for a chain that reached a root we do not trust.</summary>
    public static string MissingIssuerHint(X509Certificate2 certificate, X509Chain? chain, string role)
    {
        if (chain is null || !chain.ChainStatus.Any(s => s.Status.HasFlag(X509ChainStatusFlags.PartialChain)))
        {
            return "";
        }

        var last = chain.ChainElements.Count > 0 ? chain.ChainElements[^1].Certificate : certificate;
        return $" (the chain stops at '{last.Issuer}': if that is an intermediate CA of yours, the {role} must send it after its certificate " +
            "in its cert file, or it must be in the ca file; certificates' download URLs are not followed)";
    }

    private static PeerVerdict UnknownIssuer(X509Certificate2 certificate, string role, string name, string hint = "") =>
        new(PeerProblem.UnknownIssuer, $"the {role} certificate {name} is issued by '{certificate.Issuer}', which does not chain to the configured CA{hint}", name);

    private static PeerVerdict FromOwnBytes(X509Certificate2 certificate, string role) => UsageProblem(certificate, role) ?? Trusted(certificate);

    /// <summary>What the chain check leaves to us. The key usage must allow digitalSignature when the extension is
    /// there: TLS 1.3 (and ECDHE in TLS 1.2) authenticates a peer by a signature made with its certificate's key
    /// (RFC 8446 §4.4.2.2), and a keyEncipherment-only or keyAgreement-only key may not sign (RFC 5280 §4.2.1.3).
    /// And the extended key usage must be there and name the role: .NET, like RFC 5280 §4.2.1.12 and OpenSSL, treats
    /// a certificate without one as good for any purpose; Tunnel does not, so that a certificate its private CA made
    /// for something else cannot authenticate a tunnel.</summary>
    private static PeerVerdict? UsageProblem(X509Certificate2 certificate, string role)
    {
        var name = CertificateInfo.ShortName(certificate);
        var keyUsage = certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        if (keyUsage is not null && (keyUsage.KeyUsages & X509KeyUsageFlags.DigitalSignature) == 0)
        {
            return new PeerVerdict(PeerProblem.WrongUsage,
                $"the {role} certificate {name} does not allow digital signatures (key usage: {keyUsage.KeyUsages}), which TLS needs to " +
                "authenticate it (RFC 8446 §4.4.2.2); reissue it with key usage digitalSignature", name);
        }

        if (!certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Any())
        {
            var usage = role == "server" ? "serverAuth" : "clientAuth";
            return new PeerVerdict(PeerProblem.WrongUsage,
                $"the {role} certificate {name} has no extended key usage; Tunnel requires {usage} (reissue it with `certs issue {role}`)", name);
        }

        return null;
    }
}
