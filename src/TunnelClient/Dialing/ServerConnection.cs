using Tunnel.Net;
using Tunnel.Relay;

namespace Tunnel.Client.Dialing;

/// <summary>An established, verified TLS connection to a tunnel-server. Disposing the lease tells the balancer the
/// connection closed (least-connections counts it until then).</summary>
internal sealed record ServerConnection(TlsEndpoint Endpoint, HostPort Server, string ServerIdentity) : IDisposable
{
    public IDisposable? Lease { get; init; }

    /// <summary>What the relay reads and writes: the TLS endpoint, or a wrapper that hands over the read a warm
    /// pool left pending on it.</summary>
    public IRelayEndpoint Relay { get; init; } = Endpoint;

    /// <summary>Taken from the warm pool rather than established for this connection.</summary>
    public bool Pooled { get; init; }

    public void Dispose() => Lease?.Dispose();
}
