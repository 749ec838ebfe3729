using Microsoft.Extensions.Logging;
using Tunnel.Hosting;
using Tunnel.Net;
using Tunnel.Server.Connections;
using Tunnel.Server.Options;
using Tunnel.Server.Tls;
using Tunnel.Server.Upstream;
using Tunnel.Tls;

namespace Tunnel.Server;

/// <summary>One configured server tunnel: its listener, TLS material and connection handler.</summary>
internal sealed partial class ServerTunnel : ITunnelService
{
    private readonly ServerTunnelOptions _options;
    private readonly TcpListenerLoop _listener;
    private readonly ServerConnectionHandler _handler;
    private readonly ILogger _logger;

    public ServerTunnel(ServerTunnelOptions options, DaemonContext context)
    {
        _options = options;
        _logger = context.Logger;
        Tls = new Reloadable<ServerTlsState>($"tunnel {options.Name}", () => ServerTlsState.Load(options, context.Time), context.Logger);
        _listener = new TcpListenerLoop(options.Name, options.Listener, context.Limiter, context.Tracker, context.Logger, context.Time);
        _handler = new ServerConnectionHandler(options, Tls, new UpstreamConnector(options, context.Time), context);
    }

    public string Name => _options.Name;

    public Reloadable<ServerTlsState> Tls { get; }

    public System.Net.IPEndPoint LocalEndPoint => _listener.LocalEndPoint;

    public void Bind()
    {
        _listener.Bind();
        LogListening(_logger, Name, _listener.LocalEndPoint.ToString(), string.Join(", ", _options.Upstreams),
            CertificateInfo.ShortName(Tls.Current.Identity.Certificate));
    }

    public Task RunAsync(CancellationToken stopAccepting) => _listener.RunAsync(_handler.HandleAsync, stopAccepting);

    public void Dispose() => _listener.Dispose();

    [LoggerMessage(EventId = 300, EventName = "ServerListening", Level = LogLevel.Information,
        Message = "tunnel {Tunnel}: listening on {Address} (TLS as {Certificate}), forwarding authenticated clients to {Upstream}")]
    private static partial void LogListening(ILogger logger, string tunnel, string address, string upstream, string certificate);
}
