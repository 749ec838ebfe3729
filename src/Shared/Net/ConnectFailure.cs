namespace Tunnel.Net;

/// <summary>Why a TCP connection could not be made. The kinds map to operator advice and to HTTP status codes in
/// the client's error responses.</summary>
internal enum ConnectFailure
{
    /// <summary>The name did not resolve.</summary>
    Dns,

    /// <summary>The host answered with a reset: nothing listens on that port.</summary>
    Refused,

    /// <summary>No answer within the connect timeout: a firewall dropping packets, or a dead host.</summary>
    Timeout,

    /// <summary>No route to the network or host.</summary>
    Unreachable,

    /// <summary>Anything else.</summary>
    Other,
}
