using Tunnel.Balancing;
using Tunnel.Common;
using Tunnel.Config;
using Tunnel.Hosting;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Server.Options;

/// <summary>One tunnel of tunnel-server: where it listens, whom it accepts, where it forwards.</summary>
/// <param name="Name">Tunnel name (the key under <c>tunnels</c>, or "default").</param>
/// <param name="Listener">Listening address and socket options.</param>
/// <param name="Upstreams">The upstream proxy (or proxies); the only place traffic is ever forwarded to.</param>
/// <param name="Identity">The server's certificate and key.</param>
/// <param name="ClientCaPath">CA bundle that client certificates must chain to.</param>
/// <param name="MinVersion">Lowest TLS version accepted.</param>
/// <param name="Timeouts">Every bounded wait.</param>
/// <param name="KeepAlive">TCP keepalive for both sockets.</param>
/// <param name="Dial">When to dial the upstream.</param>
/// <param name="CrlPath">CRL file checked on every handshake (optional).</param>
/// <param name="Allow">Client identities allowed inline (<c>cn:</c>, <c>dns:</c>, <c>uri:</c>, <c>spki:</c>); empty admits any valid client.</param>
/// <param name="AllowFile">File with more allowed identities, one per line (optional).</param>
/// <param name="Balancing">Upstream selection, retries and health checks.</param>
/// <param name="Edge">PROXY headers in and out, admission limits, the decoy.</param>
/// <param name="Alpn">ALPN protocols the server may select, in its order of preference (none by default, as
/// stunnel); reloadable with the rest of the TLS policy.</param>
internal sealed record ServerTunnelOptions(
    string Name,
    ListenerOptions Listener,
    IReadOnlyList<HostPort> Upstreams,
    IdentityOptions Identity,
    string ClientCaPath,
    TlsVersion MinVersion,
    TunnelTimeouts Timeouts,
    KeepAliveOptions KeepAlive,
    UpstreamDial Dial,
    string? CrlPath,
    IReadOnlyList<string> Allow,
    string? AllowFile,
    BalancingOptions Balancing,
    EdgeOptions Edge,
    IReadOnlyList<string> Alpn) : ITunnelOptions
{
    /// <summary>Whether clients may multiplex, and how many streams one connection may carry.</summary>
    public ServerMultiplexOptions Multiplex { get; init; } = new(true, Defaults.ServerMultiplexStreams);

    /// <summary>Resumable TLS sessions kept in memory (reloadable; reaches new connections).</summary>
    public TlsSessionCache SessionCache { get; init; } = TlsSessionCache.Default;

    /// <summary>Files whose change triggers a reload.</summary>
    public IEnumerable<string> PolicyFiles =>
        Identity.Files.Append(ClientCaPath).Concat(new[] { CrlPath, AllowFile }.Where(p => p is not null).Select(p => p!));
}

/// <summary>Multiplexing as the server accepts it.</summary>
/// <param name="Enabled">Take up a client's multiplexing preamble (on by default; clients must opt in). Off: the
/// preamble is forwarded to the upstream like any first bytes, and the client falls back to plain connections.</param>
/// <param name="MaxStreams">Streams one multiplexed connection may carry at once; more are refused with a reset.</param>
internal sealed record ServerMultiplexOptions(bool Enabled, int MaxStreams);
