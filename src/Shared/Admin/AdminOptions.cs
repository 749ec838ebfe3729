using Tunnel.Net;

namespace Tunnel.Admin;

/// <summary>The admin endpoint (/healthz, /readyz, /metrics). Off unless an address is given; a bare port binds
/// loopback only.</summary>
internal sealed record AdminOptions(HostPort? Listen)
{
    public static AdminOptions Off { get; } = new((HostPort?)null);
}
