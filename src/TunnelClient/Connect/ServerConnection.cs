using Tunnel.Net;
using Tunnel.Relay;

namespace Tunnel.Client.Connect;

/// <summary>An established, verified TLS connection to a tunnel-server. Disposing the lease tells the balancer the
/// connection closed (least-connections counts it until then).</summary>
internal sealed record ServerConnection(TlsEndpoint Endpoint, HostPort Server, string ServerIdentity) : IDisposable
{
    public IDisposable? Lease { get; init; }

    public void Dispose() => Lease?.Dispose();
}
