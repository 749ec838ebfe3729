namespace Tunnel.Client.Dialing;

/// <summary>No tunnel to any server could be established. <see cref="Status"/> is the HTTP status a proxy request
/// gets: 503 when the servers cannot be reached, 502 when one answered but TLS failed.</summary>
internal sealed class TunnelConnectException(int status, string server, string message, Exception? inner = null) : Exception(message, inner)
{
    public int Status => status;

    /// <summary>Worth retrying: the server could not be reached or the handshake broke off. A certificate that
    /// fails verification will fail again.</summary>
    public bool Retryable { get; init; } = true;

    /// <summary>The last server tried.</summary>
    public string Server => server;
}
