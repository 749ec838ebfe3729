using System.Collections.Concurrent;

namespace Tunnel.Metrics;

/// <summary>One tunnel's metric series.</summary>
internal sealed class TunnelSeries
{
    private readonly TunnelMetrics _metrics;
    private readonly string _tunnel;
    private readonly ConcurrentDictionary<string, Counter> _closed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Counter> _accepts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Counter> _limits = new(StringComparer.Ordinal);

    public TunnelSeries(TunnelMetrics metrics, string tunnel)
    {
        _metrics = metrics;
        _tunnel = tunnel;
        Open = metrics.ConnectionsOpen.WithLabels(tunnel);
        Handshake = metrics.Handshake.WithLabels(tunnel);
        Duration = metrics.Duration.WithLabels(tunnel);
        BytesUp = metrics.Bytes.WithLabels(tunnel, "up");
        BytesDown = metrics.Bytes.WithLabels(tunnel, "down");
        foreach (var result in new[] { "success", "rejected", "timeout", "error", "limited" })
        {
            Accepted(result);
        }
    }

    public Gauge Open { get; }

    public Histogram Handshake { get; }

    public Histogram Duration { get; }

    public Counter BytesUp { get; }

    public Counter BytesDown { get; }

    public Counter Accepted(string result) => _accepts.GetOrAdd(result, r => _metrics.Accepts.WithLabels(_tunnel, r));

    /// <summary>Connections refused by the named limit (source, identity, handshake-rate).</summary>
    public Counter LimitRejected(string limit) => _limits.GetOrAdd(limit, l => _metrics.LimitRejections.WithLabels(_tunnel, l));

    public Counter ClosedBy(string reason) => _closed.GetOrAdd(reason, r => _metrics.Closed.WithLabels(_tunnel, r));

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
