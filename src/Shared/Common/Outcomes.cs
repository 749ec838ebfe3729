namespace Tunnel.Common;

/// <summary>How a connection (or a multiplexed stream) ended, in the relay or before it: the <c>reason=</c> of its
/// close line and the <c>reason</c> label of <c>tunnel_closed_total</c>. docs/operations.md lists each name.</summary>
internal enum CloseOutcome
{
    /// <summary>Both directions ended normally.</summary>
    Done,

    /// <summary>The accepted side reset the connection or failed.</summary>
    ClientError,

    /// <summary>The dialled side reset the connection or failed.</summary>
    UpstreamError,

    /// <summary>No byte moved for the idle timeout (or no first byte within the first-byte timeout).</summary>
    IdleTimeout,

    /// <summary>After one side half-closed, the other did not finish within the close timeout.</summary>
    CloseTimeout,

    /// <summary>The connection reached its maximum lifetime.</summary>
    MaxLifetime,

    /// <summary>The drain timeout expired during shutdown.</summary>
    Shutdown,

    /// <summary>Draining, and the connection was idle: both sides were closed gracefully.</summary>
    Drained,

    /// <summary>The peer closed without sending a byte.</summary>
    NoData,

    /// <summary>(client) The accepted connection sent nothing within the first-byte timeout.</summary>
    FirstByteTimeout,

    /// <summary>Refused by a connection limit or the handshake rate.</summary>
    Limited,

    /// <summary>(server) The PROXY protocol header was missing or invalid.</summary>
    BadProxyHeader,

    /// <summary>No complete handshake (with the PROXY header, if any) within the handshake timeout.</summary>
    HandshakeTimeout,

    /// <summary>The TLS handshake failed.</summary>
    HandshakeFailed,

    /// <summary>(server) The client certificate was refused.</summary>
    ClientRejected,

    /// <summary>(client) No tunnel-server could be reached.</summary>
    ServerUnreachable,

    /// <summary>(client) The TLS handshake with the tunnel-server failed.</summary>
    TlsFailed,

    /// <summary>A proxy request's far side closed or failed before the first byte of an answer (a 502 was sent).</summary>
    NoAnswer,

    /// <summary>(server) The upstream proxy could not be reached.</summary>
    UpstreamUnreachable,

    /// <summary>(server) An unauthenticated client was served the decoy website.</summary>
    Decoy,

    /// <summary>(server) The decoy could not be reached.</summary>
    DecoyUnreachable,

    /// <summary>The connection's handler ended without saying why: a bug, logged as such.</summary>
    InternalError,
}

/// <summary>What became of an accepted connection at admission and handshake: the <c>result</c> label of
/// <c>tunnel_accept_total</c>. docs/operations.md lists each name.</summary>
internal enum AcceptOutcome
{
    /// <summary>Authenticated and admitted.</summary>
    Success,

    /// <summary>The peer's certificate was refused.</summary>
    Rejected,

    /// <summary>No complete handshake within the handshake timeout.</summary>
    Timeout,

    /// <summary>The handshake (or, on the client, the connection to a server) failed.</summary>
    Error,

    /// <summary>Refused by a connection limit or the handshake rate.</summary>
    Limited,

    /// <summary>(server) An unauthenticated client sent to the decoy.</summary>
    Decoy,

    /// <summary>(server) The PROXY protocol header was missing or invalid.</summary>
    BadProxyHeader,
}

/// <summary>The one place outcomes get their names: stable, lower-case, hyphenated, as logs and metric labels carry
/// them.</summary>
internal static class OutcomeNames
{
    public static string Name(this CloseOutcome outcome) => outcome switch
    {
        CloseOutcome.Done => "done",
        CloseOutcome.ClientError => "client-error",
        CloseOutcome.UpstreamError => "upstream-error",
        CloseOutcome.IdleTimeout => "idle-timeout",
        CloseOutcome.CloseTimeout => "close-timeout",
        CloseOutcome.MaxLifetime => "max-lifetime",
        CloseOutcome.Shutdown => "shutdown",
        CloseOutcome.Drained => "drained",
        CloseOutcome.NoData => "no-data",
        CloseOutcome.FirstByteTimeout => "first-byte-timeout",
        CloseOutcome.Limited => "limited",
        CloseOutcome.BadProxyHeader => "bad-proxy-header",
        CloseOutcome.HandshakeTimeout => "handshake-timeout",
        CloseOutcome.HandshakeFailed => "handshake-failed",
        CloseOutcome.ClientRejected => "client-rejected",
        CloseOutcome.ServerUnreachable => "server-unreachable",
        CloseOutcome.TlsFailed => "tls-failed",
        CloseOutcome.NoAnswer => "no-answer",
        CloseOutcome.UpstreamUnreachable => "upstream-unreachable",
        CloseOutcome.Decoy => "decoy",
        CloseOutcome.DecoyUnreachable => "decoy-unreachable",
        CloseOutcome.InternalError => "internal-error",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };

    public static string Name(this AcceptOutcome outcome) => outcome switch
    {
        AcceptOutcome.Success => "success",
        AcceptOutcome.Rejected => "rejected",
        AcceptOutcome.Timeout => "timeout",
        AcceptOutcome.Error => "error",
        AcceptOutcome.Limited => "limited",
        AcceptOutcome.Decoy => "decoy",
        AcceptOutcome.BadProxyHeader => "bad-proxy-header",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };
}
