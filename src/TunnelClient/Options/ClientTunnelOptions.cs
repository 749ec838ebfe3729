using Tunnel.Admission;
using Tunnel.Balancing;
using Tunnel.Config;
using Tunnel.Hosting;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Client.Options;

/// <summary>One tunnel of tunnel-client: where it accepts plain TCP and which tunnel-server it wraps it to.</summary>
/// <param name="Name">Tunnel name (the key under <c>tunnels</c>, or "default").</param>
/// <param name="Listener">Where Squid (or anything) connects, in plain TCP.</param>
/// <param name="Servers">tunnel-server addresses, tried in order.</param>
/// <param name="ServerName">The name the server certificate must carry (default: the first server's host).</param>
/// <param name="Sni">The SNI sent in the ClientHello: the server name by default, a cover name, or empty for none.</param>
/// <param name="Alpn">ALPN protocols offered (none by default, as stunnel).</param>
/// <param name="Identity">The client certificate presented to the server (optional, but servers require one).</param>
/// <param name="CaPath">CA bundle the server must chain to; null uses the system store.</param>
/// <param name="MinVersion">Lowest TLS version offered.</param>
/// <param name="Timeouts">Every bounded wait.</param>
/// <param name="KeepAlive">TCP keepalive on both sockets.</param>
/// <param name="ServerPins">SPKI SHA-256 pins; when set, the server's chain must contain a pinned key (leaf or CA).</param>
/// <param name="Balancing">Server selection, retries, hedging and health checks.</param>
/// <param name="Proxy">The site's outbound HTTP proxy to reach the servers through (optional).</param>
/// <param name="Pool">The warm pool of ready connections.</param>
internal sealed record ClientTunnelOptions(
    string Name,
    ListenerOptions Listener,
    IReadOnlyList<HostPort> Servers,
    string ServerName,
    string Sni,
    IReadOnlyList<string> Alpn,
    IdentityOptions Identity,
    string? CaPath,
    TlsVersion MinVersion,
    TunnelTimeouts Timeouts,
    KeepAliveOptions KeepAlive,
    IReadOnlyList<byte[]> ServerPins,
    BalancingOptions Balancing,
    OutboundProxyOptions? Proxy,
    PoolOptions Pool) : ITunnelOptions
{
    /// <summary>Multiplexing (off by default).</summary>
    public MultiplexOptions Multiplex { get; init; } = MultiplexOptions.Off;

    /// <summary>How long a new connection may stay silent before it is closed (reason <c>first-byte-timeout</c>):
    /// a connection that has sent nothing costs no TLS handshake, but it holds a slot of <c>maxConnections</c>
    /// (default 15 s; <see cref="Timeout.InfiniteTimeSpan"/>: only <c>idleTimeout</c> applies).</summary>
    public TimeSpan FirstByteTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Per-source limit (<c>maxConnectionsPerSource</c>; off by default). Only
    /// <see cref="AdmissionLimits.MaxPerSource"/> applies on the client.</summary>
    public AdmissionLimits Limits { get; init; } = AdmissionLimits.Off;

    public bool UsesSystemTrust => CaPath is null;

    /// <summary>Files whose change triggers a reload.</summary>
    public IEnumerable<string> PolicyFiles => CaPath is null ? Identity.Files : Identity.Files.Append(CaPath);
}
