namespace Tunnel.Tls;

/// <summary>What is wrong with a peer's certificate, in the terms an operator acts on.</summary>
internal enum PeerProblem
{
    None,
    NoCertificate,
    UnknownIssuer,

    /// <summary>An unknown issuer on a certificate made out to the expected name: a TLS-intercepting middlebox.</summary>
    Intercepted,
    Expired,
    NotYetValid,
    WrongUsage,
    BadSignature,
    NameMismatch,
    PinMismatch,
    Revoked,
    NotAllowed,
    Invalid,
}
