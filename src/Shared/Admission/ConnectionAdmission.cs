using System.Net;
using Microsoft.Extensions.Logging;
using Tunnel.Common;
using Tunnel.Logging;
using Tunnel.Metrics;
using Tunnel.Net;

namespace Tunnel.Admission;

/// <summary>One tunnel's admission limits: connections per client address and per client identity, and the rate of
/// new handshakes (tunnel-server uses all three, tunnel-client the per-address one). A refused connection is counted
/// (<c>tunnel_accept_total{result="limited"}</c> and <c>tunnel_limit_rejections_total{limit}</c>), closed by the
/// caller, and logged at warning once per burst: the first refusal of a limit is logged at once, later ones at most
/// every <see cref="WarningInterval"/> with the number left out, so a flood cannot flood the log too.</summary>
internal sealed class ConnectionAdmission : IDisposable
{
    public const string SourceLimit = "source";
    public const string IdentityLimit = "identity";
    public const string HandshakeRateLimit = "handshake-rate";

    public static readonly TimeSpan WarningInterval = TimeSpan.FromSeconds(10);

    private readonly KeyedConnectionLimiter<IPAddress>? _perSource;
    private readonly KeyedConnectionLimiter<string>? _perIdentity;
    private readonly RateLimitGate? _handshakes;
    private readonly LogThrottle _warnings;
    private readonly HashSet<string> _configured = [];
    private readonly ILogger _logger;

    public ConnectionAdmission(AdmissionLimits limits, TunnelSeries metrics, ILogger logger, TimeProvider time)
    {
        _logger = logger;
        _warnings = new LogThrottle(WarningInterval, time);
        if (limits.MaxPerSource is { } perSource)
        {
            _perSource = new KeyedConnectionLimiter<IPAddress>(perSource);
            _configured.Add(SourceLimit);
        }

        if (limits.MaxPerIdentity is { } perIdentity)
        {
            _perIdentity = new KeyedConnectionLimiter<string>(perIdentity);
            _configured.Add(IdentityLimit);
        }

        if (limits.HandshakeRate is { } rate)
        {
            _handshakes = new RateLimitGate(rate);
            _configured.Add(HandshakeRateLimit);
        }

        // Configured limits show up in /metrics at 0 before their first refusal.
        foreach (var limit in _configured)
        {
            metrics.LimitRejected(limit);
        }
    }

    /// <summary>Admits one more connection from <paramref name="source"/>: a lease to hold until the connection
    /// closes (<see cref="ConnectionRecord.Hold"/>), or null when that address is at its limit (the refusal is
    /// counted, logged and the record closed with reason <c>limited</c>).</summary>
    public IDisposable? AdmitSource(IPAddress source, ConnectionRecord record)
    {
        if (_perSource is null)
        {
            return NoLease.Instance;
        }

        // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; the same client must count once.
        var key = source.IsIPv4MappedToIPv6 ? source.MapToIPv4() : source;
        var lease = _perSource.TryAcquire(key);
        if (lease is null)
        {
            Refuse(SourceLimit, record, $"{key} already has {_perSource.Limit} connections (maxConnectionsPerSource {_perSource.Limit})");
        }

        return lease;
    }

    /// <summary>Takes a handshake token; false (counted and logged) when the rate is exceeded.</summary>
    public bool AdmitHandshake(ConnectionRecord record)
    {
        if (_handshakes is null || _handshakes.TryPass())
        {
            return true;
        }

        Refuse(HandshakeRateLimit, record, $"more than {_handshakes.Rate} new handshakes (handshakeRate)");
        return false;
    }

    /// <summary>Admits one more connection for an authenticated client certificate; null when that identity is at
    /// its limit.</summary>
    public IDisposable? AdmitIdentity(string identity, ConnectionRecord record)
    {
        if (_perIdentity is null)
        {
            return NoLease.Instance;
        }

        var lease = _perIdentity.TryAcquire(identity);
        if (lease is null)
        {
            Refuse(IdentityLimit, record, $"client {identity} already has {_perIdentity.Limit} connections (maxConnectionsPerIdentity {_perIdentity.Limit})");
        }

        return lease;
    }

    private void Refuse(string limit, ConnectionRecord record, string detail)
    {
        record.Metrics.Accepted(AcceptOutcome.Limited).Increment();
        record.Metrics.LimitRejected(limit).Increment();
        if (_warnings.ShouldLog(limit, out var suppressed))
        {
            LimitLog.LimitReached(_logger, record.Tunnel, record.Id, record.Peer, detail, suppressed, Durations.Format(WarningInterval));
        }
        else
        {
            LimitLog.LimitRefused(_logger, record.Tunnel, record.Id, record.Peer, detail);
        }

        // The warning above speaks for the burst; one close line per refused connection would not.
        record.Closed(CloseOutcome.Limited, routine: true);
    }

    public void Dispose() => _handshakes?.Dispose();

    private sealed class NoLease : IDisposable
    {
        public static readonly NoLease Instance = new();

        public void Dispose()
        {
        }
    }
}
