using Microsoft.Extensions.Logging;
using Tunnel.Client.Connect;
using Tunnel.Client.Connections;
using Tunnel.Client.Options;
using Tunnel.Client.Tls;
using Tunnel.Hosting;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Client;

/// <summary>One configured client tunnel: its listener, TLS material, server connector and connection handler.</summary>
internal sealed partial class ClientTunnel : ITunnelService
{
    private readonly ClientTunnelOptions _options;
    private readonly TcpListenerLoop _listener;
    private readonly ClientConnectionHandler _handler;
    private readonly ILogger _logger;

    public ClientTunnel(ClientTunnelOptions options, DaemonContext context)
    {
        _options = options;
        _logger = context.Logger;
        Tls = new Reloadable<ClientTlsState>($"tunnel {options.Name}", () => ClientTlsState.Load(options, context.Time), context.Logger);
        Connector = new ServerConnector(options, Tls, context.Time);
        _listener = new TcpListenerLoop(options.Name, options.Listener, context.Limiter, context.Tracker, context.Logger, context.Time);
        _handler = new ClientConnectionHandler(options, Connector, context);
    }

    public string Name => _options.Name;

    public Reloadable<ClientTlsState> Tls { get; }

    public ServerConnector Connector { get; }

    public System.Net.IPEndPoint LocalEndPoint => _listener.LocalEndPoint;

    public void Bind()
    {
        _listener.Bind();
        var identity = Tls.Current.Identity is { } id ? CertificateInfo.ShortName(id.Certificate) : "no client certificate";
        LogListening(_logger, Name, _listener.LocalEndPoint.ToString(), string.Join(", ", _options.Servers), _options.ServerName, identity);
        if (Tls.Current.Identity is null)
        {
            LogNoClientCertificate(_logger, Name);
        }
    }

    public Task RunAsync(CancellationToken stopAccepting) => _listener.RunAsync(_handler.HandleAsync, stopAccepting);

    public void Dispose() => _listener.Dispose();

    [LoggerMessage(EventId = 400, EventName = "ClientListening", Level = LogLevel.Information,
        Message = "tunnel {Tunnel}: listening on {Address}, tunneling to {Servers} (expecting {ServerName}, presenting {Identity})")]
    private static partial void LogListening(ILogger logger, string tunnel, string address, string servers, string serverName, string identity);

    [LoggerMessage(EventId = 401, EventName = "NoClientCertificate", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel}: no client certificate configured; tunnel-server requires one (set 'cert' and 'key')")]
    private static partial void LogNoClientCertificate(ILogger logger, string tunnel);
}
