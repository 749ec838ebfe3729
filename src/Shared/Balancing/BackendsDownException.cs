namespace Tunnel.Balancing;

/// <summary>No backend could be used: each is known down (circuit open, failed probes) or every attempt failed.
/// The message lists each backend with its last error.</summary>
internal sealed class BackendsDownException(string message, bool knownDown, Exception? last, bool retryable = false) : Exception(message, last)
{
    /// <summary>True when nothing was even tried because every backend was already known down (a fast failure).</summary>
    public bool KnownDown => knownDown;

    /// <summary>True when the failures look transient, so another round after a backoff may succeed.</summary>
    public bool Retryable => retryable && !knownDown;
}
