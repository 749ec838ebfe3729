namespace Tunnel.Net;

/// <summary>How a tunnel listens.</summary>
/// <param name="Address">Where to listen; <c>*:port</c> or <c>:port</c> for every address (IPv4 and IPv6).</param>
/// <param name="Backlog">Kernel accept queue length (capped by net.core.somaxconn). Connections over the
/// concurrency limit wait here.</param>
/// <param name="ReusePort">Set SO_REUSEPORT so several processes can share the port (rolling upgrades,
/// one process per core).</param>
internal sealed record ListenerOptions(HostPort Address, int Backlog = 1024, bool ReusePort = false);
