namespace Tunnel.Net.ProxyProtocol;

/// <summary>Which PROXY protocol headers a listener requires in front of every connection. A listener that requires
/// one never guesses: a connection without it is refused, because a header that may be omitted lets anyone who reaches
/// the port directly claim any address (proxy-protocol.txt §2).</summary>
internal enum ProxyProtocolMode
{
    /// <summary>No header expected (the default): the connection's own peer address is the client's.</summary>
    Off,

    /// <summary>The text header (<c>PROXY TCP4 ...\r\n</c>), as sent by HAProxy's <c>send-proxy</c>.</summary>
    V1,

    /// <summary>The binary header, as sent by HAProxy's <c>send-proxy-v2</c>, AWS NLB, GCP and Azure load balancers.</summary>
    V2,

    /// <summary>Either format, told apart by their first bytes (the specification's recommendation for receivers).</summary>
    Any,
}
