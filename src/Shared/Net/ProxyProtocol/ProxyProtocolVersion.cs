namespace Tunnel.Net.ProxyProtocol;

/// <summary>The PROXY protocol format a sender writes.</summary>
internal enum ProxyProtocolVersion
{
    /// <summary>Human-readable text, one line ending in CRLF.</summary>
    V1 = 1,

    /// <summary>Binary, 16 bytes plus the addresses.</summary>
    V2 = 2,
}
