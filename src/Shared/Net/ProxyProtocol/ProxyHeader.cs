using System.Net;

namespace Tunnel.Net.ProxyProtocol;

/// <summary>A parsed PROXY protocol header.</summary>
/// <param name="Version">1 (text) or 2 (binary).</param>
/// <param name="Source">The original client. Null when the header carries no usable address (v1 <c>UNKNOWN</c>, a
/// v2 <c>LOCAL</c> command such as a load balancer's health check, or a v2 family other than TCP over IPv4/IPv6):
/// the connection's own endpoints then stand, as the specification requires.</param>
/// <param name="Destination">The address the client connected to (the load balancer's front end); null exactly
/// when <paramref name="Source"/> is.</param>
/// <param name="Length">The header's size in bytes: the payload starts right after it.</param>
/// <param name="IsLocal">A v2 <c>LOCAL</c> command: the sender opened the connection on its own behalf.</param>
internal sealed record ProxyHeader(ProxyProtocolVersion Version, IPEndPoint? Source, IPEndPoint? Destination, int Length, bool IsLocal = false);
