namespace Tunnel.Client.Dialing;

/// <summary>The outbound proxy would not open a tunnel; the message says why and what to do.</summary>
internal sealed class OutboundProxyException(string message, int? status = null, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The proxy's HTTP status, when it answered.</summary>
    public int? Status => status;
}
