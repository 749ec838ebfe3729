namespace Tunnel.Balancing;

/// <summary>How a connection picks among several healthy backends.</summary>
internal enum BalancingStrategy
{
    /// <summary>The first healthy backend in configuration order (stunnel's <c>failover = prio</c>).</summary>
    Failover,

    /// <summary>Each connection starts with the next healthy backend in turn.</summary>
    RoundRobin,

    /// <summary>The healthy backend with the fewest open connections from this process.</summary>
    LeastConnections,
}
