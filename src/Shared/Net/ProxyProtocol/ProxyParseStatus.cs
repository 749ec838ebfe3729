namespace Tunnel.Net.ProxyProtocol;

/// <summary>The outcome of looking for a PROXY header at the start of what a connection has sent so far.</summary>
internal enum ProxyParseStatus
{
    /// <summary>A whole, valid header.</summary>
    Complete,

    /// <summary>A valid beginning; more bytes are needed.</summary>
    Incomplete,

    /// <summary>Not a header the listener accepts: the connection must be dropped.</summary>
    Invalid,
}
