namespace Tunnel.Tls;

/// <summary>What is wrong with a peer's certificate, in the terms an operator acts on.</summary>
internal enum PeerProblem
{
    None,
    NoCertificate,
    UnknownIssuer,
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
