using Microsoft.Extensions.Logging;
using Tunnel.Common;
using Tunnel.Metrics;

namespace Tunnel.Logging;

/// <summary>What is known about one connection as it progresses, written out as its open and close log lines and
/// counted in the tunnel's metrics. Disposing a record that was never closed closes it as an internal error, so the
/// open-connections gauge cannot leak.</summary>
internal sealed class ConnectionRecord : IDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TunnelSeries _metrics;
    private readonly bool _quiet;
    private readonly long _started;
    private int _closed;

    public ConnectionRecord(string tunnel, long id, string peer, ILogger logger, TimeProvider time, TunnelSeries metrics, bool quiet)
    {
        Tunnel = tunnel;
        Id = id;
        Peer = peer;
        _logger = logger;
        _time = time;
        _metrics = metrics;
        _quiet = quiet;
        _started = time.GetTimestamp();
        metrics.Open.Increment();
    }

    public string Tunnel { get; }

    public long Id { get; }

    /// <summary>The peer's address (the real client address when a PROXY header supplied it).</summary>
    public string Peer { get; set; }

    /// <summary>The peer certificate's short name once the handshake has verified it.</summary>
    public string PeerIdentity { get; set; } = "-";

    /// <summary>Where the connection was forwarded to.</summary>
    public string Upstream { get; set; } = "-";

    public long BytesUp { get; set; }

    public long BytesDown { get; set; }

    public TimeSpan Elapsed => _time.GetElapsedTime(_started);

    public TunnelSeries Metrics => _metrics;

    /// <summary>Ties a resource (a connection limiter's lease) to this connection: it is released when the
    /// connection is closed, before the close line is written, so that once the log says a connection ended it no
    /// longer counts against any limit.</summary>
    public void Hold(IDisposable resource) => (_held ??= []).Add(resource);

    private List<IDisposable>? _held;

    public void Opened(string tlsProtocol, string tlsCipher) =>
        ConnectionLog.Open(_logger, _quiet, Tunnel, Id, Peer, PeerIdentity, Upstream, tlsProtocol, tlsCipher);

    /// <summary>Writes the close line and counts the close. <paramref name="routine"/> demotes the line to Debug (a
    /// probe that sent nothing).</summary>
    public void Closed(CloseOutcome reason, bool routine = false)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        foreach (var resource in _held ?? [])
        {
            resource.Dispose();
        }

        var elapsed = Elapsed;
        _metrics.Open.Decrement();
        _metrics.ClosedBy(reason).Increment();
        _metrics.Duration.Observe(elapsed.TotalSeconds);
        ConnectionLog.Close(_logger, _quiet || routine, Tunnel, Id, Peer, PeerIdentity, Upstream, BytesUp, BytesDown,
            (long)elapsed.TotalMilliseconds, reason.Name());
    }

    public void Dispose() => Closed(CloseOutcome.InternalError);
}
