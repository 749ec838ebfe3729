using System.Net;

namespace Tunnel.Server.Handshake;

/// <summary>Who a connection really comes from and where it was addressed: the socket's own endpoints, or those of a
/// PROXY header when a load balancer sent one.</summary>
/// <param name="Source">The client.</param>
/// <param name="Destination">The address the client connected to.</param>
/// <param name="Via">The load balancer that sent the PROXY header (null without one).</param>
/// <param name="BalancerOwn">The header said the connection is the balancer's own (a v2 LOCAL command: its health
/// check), not a client's.</param>
internal sealed record ClientAddresses(IPEndPoint Source, IPEndPoint Destination, IPEndPoint? Via = null, bool BalancerOwn = false);
