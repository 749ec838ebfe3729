using Microsoft.Extensions.Logging;

namespace Tunnel.Logging;

/// <summary>Where and how a daemon logs.</summary>
/// <param name="Level">Minimum level (default information).</param>
/// <param name="Format">Console format (default text).</param>
/// <param name="File">Optional rolling log file (daily, 14 kept); SIGUSR1 reopens it.</param>
/// <param name="QuietConnections">Log connection open/close lines at Debug instead of Information.</param>
internal sealed record LogOptions(LogLevel Level, LogFormat Format, string? File, bool QuietConnections = false)
{
    public static LogOptions Default { get; } = new(LogLevel.Information, LogFormat.Text, null);
}
