using Microsoft.Extensions.Logging;
using Tunnel.Common;
using Tunnel.Hosting;
using Tunnel.Logging;
using Tunnel.Net;
using Tunnel.Relay;
using Tunnel.Server.Options;
using Tunnel.Tls;

namespace Tunnel.Server.Decoy;

/// <summary>Serves connections that completed the TLS handshake without a valid client certificate (none, another
/// CA, expired, revoked, not allowed) from a local web server, decrypted, so that an active prober, a browser or
/// <c>curl -k</c> sees an ordinary website and no tunnel-specific refusal. The upstream proxy is never dialled for
/// such a connection: the decoy address is the only place it can reach, and the options reader refuses a decoy that
/// is also an upstream.</summary>
internal sealed partial class DecoyForwarder
{
    private readonly HostPort _decoy;
    private readonly ServerTunnelOptions _options;
    private readonly DaemonContext _context;
    private readonly RelayOptions _relayOptions;

    public DecoyForwarder(HostPort decoy, ServerTunnelOptions options, DaemonContext context)
    {
        _decoy = decoy;
        _options = options;
        _context = context;
        // No tunnel byte counters: tunnel_bytes_total measures tunnelled traffic, not the website's.
        _relayOptions = options.Timeouts.ToRelayOptions();
    }

    public async Task RelayAsync(TlsEndpoint client, ConnectionRecord record, PeerVerdict verdict)
    {
        record.Metrics.Accepted(AcceptOutcome.Decoy).Increment();
        record.Upstream = _decoy.ToString();
        if (_context.QuietConnections)
        {
            LogDecoyQuiet(_context.Logger, record.Tunnel, record.Id, record.Peer, verdict.Reason, record.Upstream);
        }
        else
        {
            LogDecoy(_context.Logger, record.Tunnel, record.Id, record.Peer, verdict.Reason, record.Upstream);
        }

        System.Net.Sockets.Socket socket;
        try
        {
            socket = await TcpConnector.ConnectAsync(_decoy, _options.Timeouts.Connect, _options.KeepAlive, _context.Time, _context.Abort);
        }
        catch (Exception ex) when (ex is ConnectException or OperationCanceledException)
        {
            LogDecoyUnreachable(_context.Logger, record.Tunnel, record.Id, record.Upstream, ex.Message);
            client.Abort();
            record.Closed(CloseOutcome.DecoyUnreachable);
            return;
        }

        var decoy = new TcpEndpoint(socket);
        await using (decoy)
        {
            var result = await DuplexRelay.RunAsync(client, decoy, _relayOptions, _context.Time, _context.Draining, _context.Abort);
            record.BytesUp = result.BytesUp;
            record.BytesDown = result.BytesDown;
            record.Closed(CloseOutcome.Decoy);
            ConnectionLog.RelayError(_context.Logger, record.Tunnel, record.Id, result.Error);
        }
    }

    [LoggerMessage(EventId = 320, EventName = "DecoyServed", Level = LogLevel.Information,
        Message = "tunnel {Tunnel} conn {ConnectionId}: {Peer} is not authenticated ({Refusal}); serving it the decoy {Decoy}")]
    private static partial void LogDecoy(ILogger logger, string tunnel, long connectionId, string peer, string refusal, string decoy);

    [LoggerMessage(EventId = 321, EventName = "DecoyServedQuiet", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel} conn {ConnectionId}: {Peer} is not authenticated ({Refusal}); serving it the decoy {Decoy}")]
    private static partial void LogDecoyQuiet(ILogger logger, string tunnel, long connectionId, string peer, string refusal, string decoy);

    [LoggerMessage(EventId = 322, EventName = "DecoyUnreachable", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel} conn {ConnectionId}: cannot reach the decoy {Decoy}: {Reason}; the connection was reset")]
    private static partial void LogDecoyUnreachable(ILogger logger, string tunnel, long connectionId, string decoy, string reason);
}
