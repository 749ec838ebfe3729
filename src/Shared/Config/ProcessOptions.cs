using Tunnel.Admin;
using Tunnel.Logging;

namespace Tunnel.Config;

/// <summary>Settings of a whole daemon process, shared by all its tunnels.</summary>
/// <param name="Log">Logging.</param>
/// <param name="ShutdownTimeout">How long SIGTERM waits for connections to finish (default 30 s).</param>
/// <param name="MaxConnections">Concurrent connections across all tunnels; more wait in the kernel backlog.</param>
/// <param name="CertificateExpiryWarning">Warn when a certificate expires within this window (default 30 days).</param>
/// <param name="WatchInterval">How often certificate, CA, CRL and allow-list files are checked for changes
/// (default 5 s; <see cref="Timeout.InfiniteTimeSpan"/>: only SIGHUP reloads).</param>
/// <param name="Admin">The admin endpoint (off by default).</param>
internal sealed record ProcessOptions(LogOptions Log, TimeSpan ShutdownTimeout, int MaxConnections, TimeSpan CertificateExpiryWarning,
    TimeSpan WatchInterval, AdminOptions Admin)
{
    /// <summary>maxConnections as the operator wrote it (null: derived from the open-file limit). A reload compares
    /// this, not <see cref="MaxConnections"/>: the derived value depends on the descriptors open at the moment it is
    /// computed, so it differs from one reload to the next though nothing was changed.</summary>
    public int? ConfiguredMaxConnections { get; init; }
}
