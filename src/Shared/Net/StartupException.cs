namespace Tunnel.Net;

/// <summary>A failure that prevents a daemon from starting (a port in use, a missing permission). The message is
/// written for operators and says what to do.</summary>
internal sealed class StartupException(string message, Exception? inner = null) : Exception(message, inner);
