namespace Tunnel.Net.ProxyProtocol;

/// <summary>A connection did not start with a PROXY header the listener accepts; the message says what it sent
/// instead, for an operator's log line.</summary>
internal sealed class ProxyHeaderException(string message) : Exception(message);
