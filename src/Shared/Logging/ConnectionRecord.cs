using Microsoft.Extensions.Logging;

namespace Tunnel.Logging;

/// <summary>What is known about one connection as it progresses, written out as its open and close log lines.</summary>
internal sealed class ConnectionRecord(string tunnel, long id, string peer, ILogger logger, TimeProvider time, bool quiet)
{
    private readonly long _started = time.GetTimestamp();

    public string Tunnel => tunnel;

    public long Id => id;

    public string Peer => peer;

    /// <summary>The peer certificate's short name once the handshake has verified it.</summary>
    public string PeerIdentity { get; set; } = "-";

    /// <summary>Where the connection was forwarded to.</summary>
    public string Upstream { get; set; } = "-";

    public long BytesUp { get; set; }

    public long BytesDown { get; set; }

    public TimeSpan Elapsed => time.GetElapsedTime(_started);

    public void Opened(string tlsProtocol, string tlsCipher) =>
        ConnectionLog.Open(logger, quiet, tunnel, id, peer, PeerIdentity, Upstream, tlsProtocol, tlsCipher);

    /// <summary>Writes the close line. <paramref name="routine"/> demotes it to Debug (a probe that sent nothing).</summary>
    public void Closed(string reason, bool routine = false) =>
        ConnectionLog.Close(logger, quiet || routine, tunnel, id, peer, PeerIdentity, Upstream, BytesUp, BytesDown,
            (long)Elapsed.TotalMilliseconds, reason);
}
