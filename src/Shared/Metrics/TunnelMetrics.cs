using System.Collections.Concurrent;
using Tunnel.Common;

namespace Tunnel.Metrics;

/// <summary>The metrics both daemons export, named after ghostunnel's vocabulary with Prometheus conventions
/// (base units, <c>_total</c> counters, a <c>_info</c>-style build metric).</summary>
internal sealed class TunnelMetrics
{
    private readonly ConcurrentDictionary<string, TunnelSeries> _tunnels = new(StringComparer.Ordinal);

    public TunnelMetrics(string program)
    {
        Registry = new MetricsRegistry();
        Registry.Gauge("tunnel_build_info", "Build information; the value is always 1.", "program", "version", "runtime")
            .WithLabels(program, VersionInfo.Version, Environment.Version.ToString()).Set(1);
        ConnectionsOpen = Registry.Gauge("tunnel_connections_open", "Connections currently open (accepted and not yet closed).", "tunnel");
        Accepts = Registry.Counter("tunnel_accept_total",
            "Accepted connections by outcome: success (tunnel established), rejected (peer certificate or policy refused), timeout (handshake timed out), error, limited (refused by a limit), decoy (no valid client certificate, relayed to the decoy), bad-proxy-header (no valid PROXY protocol header where one is required).",
            "tunnel", "result");
        LimitRejections = Registry.Counter("tunnel_limit_rejections_total",
            "Connections refused by a limit: source (maxConnectionsPerSource), identity (maxConnectionsPerIdentity), handshake-rate (handshakeRate).",
            "tunnel", "limit");
        MaxConnectionsReached = Registry.Counter("tunnel_max_connections_reached_total",
            "Times a tunnel's accept loop found the process at maxConnections and stopped accepting until a connection closed (new connections wait in the kernel backlog meanwhile).",
            "tunnel");
        Handshake = Registry.Histogram("tunnel_handshake_duration_seconds", "TLS handshake duration, successful handshakes only.", Histogram.LatencyBounds, "tunnel");
        Resumed = Registry.Counter("tunnel_tls_resumed_total",
            "Successful TLS handshakes that resumed a session (a share of tunnel_handshake_duration_seconds_count).", "tunnel");
        Duration = Registry.Histogram("tunnel_connection_duration_seconds", "Connection lifetime from accept to close.", Histogram.DurationBounds, "tunnel");
        Bytes = Registry.Counter("tunnel_bytes_total", "Bytes relayed; up is from the accepted side toward the dialled side.", "tunnel", "direction");
        Closed = Registry.Counter("tunnel_connections_closed_total", "Closed connections by close reason (see docs/operations.md).", "tunnel", "reason");
        UpstreamConnectErrors = Registry.Counter("tunnel_upstream_connect_errors_total",
            "Failed attempts to connect to the dialled side (the upstream proxy on the server, a tunnel-server on the client).", "tunnel", "upstream");
        Reloads = Registry.Counter("tunnel_reloads_total", "Reloads of certificates and trust material by result.", "tunnel", "result");
        CertificateExpiry = Registry.Gauge("tunnel_cert_expiry_timestamp_seconds",
            "Expiry (Unix time) of a tunnel's own certificate (kind=identity), of the first of its CA certificates to expire (kind=ca) " +
            "and the earliest nextUpdate of its CRLs (kind=crl).", "tunnel", "kind");
        ProcessMetrics.Register(Registry);
    }

    public MetricsRegistry Registry { get; }

    /// <summary>Backend health (tunnel-servers on the client, upstream proxies on the server), registered on first use.</summary>
    public MetricFamily<Gauge> BackendUp(string name, string help)
    {
        lock (_backendUp)
        {
            if (!_backendUp.TryGetValue(name, out var family))
            {
                family = Registry.Gauge(name, help, "tunnel", "backend");
                _backendUp[name] = family;
            }

            return family;
        }
    }

    private readonly Dictionary<string, MetricFamily<Gauge>> _backendUp = [];

    private bool _sessionCache;

    /// <summary>tunnel-server's cache of resumable sessions (<see cref="Tls.VerifiedSessions"/>), one for the process:
    /// registered once, by the first server tunnel.</summary>
    public void RegisterSessionCache()
    {
        lock (_backendUp)
        {
            if (_sessionCache)
            {
                return;
            }

            _sessionCache = true;
        }

        var sessions = Registry.Gauge("tunnel_tls_session_cache_sessions",
            "Resumable TLS sessions tunnel-server keeps (all tunnels; at most sessionCacheSize per server certificate).").WithLabels();
        var evictions = Registry.SampledCounter("tunnel_tls_session_cache_evictions_total",
            "Unexpired sessions dropped because the session cache was full; their clients make a full handshake. A steady rise: raise sessionCacheSize.").WithLabels();
        Registry.OnCollect(() =>
        {
            sessions.Set(Tls.VerifiedSessions.Count);
            evictions.Set(Tls.VerifiedSessions.Evicted);
        });
    }

    private MetricFamily<Counter>? _poolTakes;
    private MetricFamily<Gauge>? _poolIdle;
    private MetricFamily<Gauge>? _poolTarget;

    /// <summary>Warm-pool takes by result (hit: a pooled connection was used; miss: the pool was empty; stale: a
    /// pooled connection had been closed or aged out), registered on first use (client only).</summary>
    public MetricFamily<Counter> PoolTakes()
    {
        lock (_backendUp)
        {
            return _poolTakes ??= Registry.Counter("tunnel_pool_takes_total", "Warm-pool takes by result: hit, miss (pool empty), stale (closed or too old).", "tunnel", "result");
        }
    }

    public MetricFamily<Gauge> PoolIdle()
    {
        lock (_backendUp)
        {
            return _poolIdle ??= Registry.Gauge("tunnel_pool_idle_connections", "Verified TLS connections waiting in the warm pool.", "tunnel");
        }
    }

    /// <summary>Connections the warm pool keeps ready: poolSize, grown by misses up to four times that.</summary>
    public MetricFamily<Gauge> PoolTarget()
    {
        lock (_backendUp)
        {
            return _poolTarget ??= Registry.Gauge("tunnel_pool_target_connections",
                "Connections the warm pool keeps ready: poolSize, grown by one for each take that found it empty (up to four times poolSize), shrunk by one for each that aged out unused.",
                "tunnel");
        }
    }

    private MetricFamily<Gauge>? _muxConnections;
    private MetricFamily<Gauge>? _muxStreams;

    /// <summary>Multiplexed TLS connections open (client only, with multiplexing on).</summary>
    public MetricFamily<Gauge> MuxConnections()
    {
        lock (_backendUp)
        {
            return _muxConnections ??= Registry.Gauge("tunnel_mux_connections", "Multiplexed TLS connections open to tunnel-servers.", "tunnel");
        }
    }

    /// <summary>Streams (tunneled connections) open on multiplexed TLS connections.</summary>
    public MetricFamily<Gauge> MuxStreams()
    {
        lock (_backendUp)
        {
            return _muxStreams ??= Registry.Gauge("tunnel_mux_streams", "Tunneled connections carried as streams on multiplexed TLS connections.", "tunnel");
        }
    }

    public MetricFamily<Gauge> ConnectionsOpen { get; }

    public MetricFamily<Counter> Accepts { get; }

    public MetricFamily<Counter> LimitRejections { get; }

    public MetricFamily<Counter> MaxConnectionsReached { get; }

    public MetricFamily<Histogram> Handshake { get; }

    public MetricFamily<Counter> Resumed { get; }

    public MetricFamily<Histogram> Duration { get; }

    public MetricFamily<Counter> Bytes { get; }

    public MetricFamily<Counter> Closed { get; }

    public MetricFamily<Counter> UpstreamConnectErrors { get; }

    public MetricFamily<Counter> Reloads { get; }

    public MetricFamily<Gauge> CertificateExpiry { get; }

    /// <summary>The series of one tunnel, resolved once so that hot paths do no dictionary lookups.</summary>
    public TunnelSeries For(string tunnel) => _tunnels.GetOrAdd(tunnel, name => new TunnelSeries(this, name));
}
