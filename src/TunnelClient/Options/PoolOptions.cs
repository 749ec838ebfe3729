namespace Tunnel.Client.Options;

/// <summary>The warm pool: verified TLS connections to the servers, established ahead of need so that a new
/// connection from Squid pays no TCP or TLS round trip.</summary>
/// <param name="Size">Idle connections kept ready per tunnel (0 disables the pool).</param>
/// <param name="MaxAge">A pooled connection older than this is closed and replaced rather than used: NATs and
/// firewalls forget idle flows, and the server closes idle connections after its idle timeout.</param>
internal sealed record PoolOptions(int Size, TimeSpan MaxAge)
{
    public static PoolOptions Off { get; } = new(0, TimeSpan.FromSeconds(30));
}

/// <summary>Multiplexing (opt-in): tunneled connections as streams over a few long-lived TLS connections.</summary>
/// <param name="Enabled">Off by default: it changes the bytes on the wire, which only a tunnel-server understands.</param>
/// <param name="Connections">Multiplexed TLS connections kept open per tunnel.</param>
/// <param name="MaxStreams">Streams on one connection before another is opened beside it.</param>
internal sealed record MultiplexOptions(bool Enabled, int Connections, int MaxStreams)
{
    public static MultiplexOptions Off { get; } = new(false, 2, 1024);
}
