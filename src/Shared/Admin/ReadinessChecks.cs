using Tunnel.Balancing;
using Tunnel.Common;

namespace Tunnel.Admin;

/// <summary>The readiness rules both daemons share: listening, an unexpired certificate, and at least one backend
/// that answered recently (within three health-check periods, when probes run).</summary>
internal static class ReadinessChecks
{
    public static TunnelReadiness Evaluate(string name, string? listen, DateTimeOffset? certificateNotAfter, BackendPool pool,
        string backendKind, DateTimeOffset now)
    {
        var problems = new List<string>();
        if (listen is null)
        {
            problems.Add("not listening");
        }

        if (certificateNotAfter is { } notAfter && notAfter <= now)
        {
            problems.Add($"certificate expired at {notAfter:u}");
        }

        var interval = pool.Options.HealthCheckInterval;
        var recent = interval == Timeout.InfiniteTimeSpan ? (TimeSpan?)null : interval * 3;
        var backends = pool.Backends.Select(b => new BackendStatus(
            b.Address.ToString(),
            b.IsAvailable && (recent is null || b.SinceLastSuccess is { } ago && ago <= recent),
            b.ProbeDown ? "isolated" : b.Circuit.ToString().ToLowerInvariant(),
            b.ActiveConnections,
            b.SinceLastSuccess?.TotalSeconds,
            b.LastError)).ToList();
        if (!backends.Any(b => b.Up))
        {
            problems.Add(recent is null
                ? $"no {backendKind} is usable"
                : $"no {backendKind} answered in the last {Durations.Format(recent.Value)}");
        }

        return new TunnelReadiness(name, problems.Count == 0, problems, listen ?? "-", certificateNotAfter, backends);
    }
}
