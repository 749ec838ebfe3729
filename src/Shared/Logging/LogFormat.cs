namespace Tunnel.Logging;

/// <summary>Console log format.</summary>
internal enum LogFormat
{
    /// <summary>Human-readable lines (coloured on a terminal).</summary>
    Text,

    /// <summary>One JSON object per line, for containers and log shippers.</summary>
    Json,
}
