namespace Tunnel.Net;

/// <summary>A TCP connection could not be established; <see cref="Exception.Message"/> is written for operators.</summary>
internal sealed class ConnectException(ConnectFailure failure, HostPort target, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public ConnectFailure Failure => failure;

    public HostPort Target => target;
}
