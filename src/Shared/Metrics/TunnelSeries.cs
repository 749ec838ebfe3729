using System.Collections.Concurrent;
using Tunnel.Common;

namespace Tunnel.Metrics;

/// <summary>One tunnel's metric series.</summary>
internal sealed class TunnelSeries
{
    private readonly TunnelMetrics _metrics;
    private readonly string _tunnel;
    private readonly ConcurrentDictionary<CloseOutcome, Counter> _closed = new();
    private readonly ConcurrentDictionary<AcceptOutcome, Counter> _accepts = new();
    private readonly ConcurrentDictionary<string, Counter> _limits = new(StringComparer.Ordinal);

    public TunnelSeries(TunnelMetrics metrics, string tunnel)
    {
        _metrics = metrics;
        _tunnel = tunnel;
        Open = metrics.ConnectionsOpen.WithLabels(tunnel);
        Handshake = metrics.Handshake.WithLabels(tunnel);
        Resumed = metrics.Resumed.WithLabels(tunnel);
        Duration = metrics.Duration.WithLabels(tunnel);
        BytesUp = metrics.Bytes.WithLabels(tunnel, "up");
        BytesDown = metrics.Bytes.WithLabels(tunnel, "down");
        MaxConnectionsReached = metrics.MaxConnectionsReached.WithLabels(tunnel);
        foreach (var result in new[] { AcceptOutcome.Success, AcceptOutcome.Rejected, AcceptOutcome.Timeout, AcceptOutcome.Error, AcceptOutcome.Limited })
        {
            Accepted(result);
        }
    }

    public Gauge Open { get; }

    public Histogram Handshake { get; }

    /// <summary>Successful handshakes that resumed a TLS session.</summary>
    public Counter Resumed { get; }

    /// <summary>A successful TLS handshake: its duration, and whether it resumed a session.</summary>
    public void Handshaked(TimeSpan duration, bool resumed)
    {
        Handshake.Observe(duration.TotalSeconds);
        if (resumed)
        {
            Resumed.Increment();
        }
    }

    public Histogram Duration { get; }

    public Counter BytesUp { get; }

    public Counter BytesDown { get; }

    /// <summary>Times this tunnel's accept loop had to wait for the process-wide maxConnections.</summary>
    public Counter MaxConnectionsReached { get; }

    public Counter Accepted(AcceptOutcome result) => _accepts.GetOrAdd(result, r => _metrics.Accepts.WithLabels(_tunnel, r.Name()));

    /// <summary>Connections refused by the named limit (source, identity, handshake-rate).</summary>
    public Counter LimitRejected(string limit) => _limits.GetOrAdd(limit, l => _metrics.LimitRejections.WithLabels(_tunnel, l));

    public Counter ClosedBy(CloseOutcome reason) => _closed.GetOrAdd(reason, r => _metrics.Closed.WithLabels(_tunnel, r.Name()));

    public Counter UpstreamConnectErrors(string upstream) => _metrics.UpstreamConnectErrors.WithLabels(_tunnel, upstream);

    public void Reloaded(bool ok) => _metrics.Reloads.WithLabels(_tunnel, ok ? "success" : "failure").Increment();

    /// <summary>Publishes the expiry dates of the tunnel's current certificate material, and the earliest nextUpdate
    /// of its CRLs (kind=crl; past it the CRL is stale but still enforced).</summary>
    public void CertificatesExpire(DateTimeOffset? identity, IEnumerable<DateTime> authorities, DateTimeOffset? crlNextUpdate = null)
    {
        if (crlNextUpdate is { } next)
        {
            _metrics.CertificateExpiry.WithLabels(_tunnel, "crl").Set(next.ToUnixTimeSeconds());
        }

        if (identity is { } notAfter)
        {
            _metrics.CertificateExpiry.WithLabels(_tunnel, "identity").Set(notAfter.ToUnixTimeSeconds());
        }

        var earliest = authorities.Select(d => new DateTimeOffset(d.ToUniversalTime())).DefaultIfEmpty().Min();
        if (earliest != default)
        {
            _metrics.CertificateExpiry.WithLabels(_tunnel, "ca").Set(earliest.ToUnixTimeSeconds());
        }
    }
}
