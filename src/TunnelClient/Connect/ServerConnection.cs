using Tunnel.Net;
using Tunnel.Relay;

namespace Tunnel.Client.Connect;

/// <summary>An established, verified TLS connection to a tunnel-server.</summary>
internal sealed record ServerConnection(TlsEndpoint Endpoint, HostPort Server, string ServerIdentity);
