using Microsoft.Extensions.Logging;
using Tunnel.Admin;
using Tunnel.Admission;
using Tunnel.Client.Connections;
using Tunnel.Client.Dialing;
using Tunnel.Client.Options;
using Tunnel.Client.Tls;
using Tunnel.Config;
using Tunnel.Hosting;
using Tunnel.Metrics;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Client;

/// <summary>One configured client tunnel: its listener, its reloadable TLS policy, its server connector and its
/// connection handler.</summary>
internal sealed partial class ClientTunnel : ITunnelService<ClientTunnelOptions>
{
    private readonly ClientTunnelOptions _startup;
    private readonly TcpListenerLoop _listener;
    private readonly ClientConnectionHandler _handler;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _expiryWarning;
    private readonly PolicyWatcher? _watcher;
    private readonly TunnelSeries _metrics;
    private readonly MaxConnectionsWarning _limitWarning;
    private readonly ConnectionAdmission _admission;
    private ClientTunnelOptions _policy;

    public ClientTunnel(ClientTunnelOptions options, ProcessOptions process, DaemonContext context)
    {
        _startup = options;
        _policy = options;
        _logger = context.Logger;
        _time = context.Time;
        _expiryWarning = process.CertificateExpiryWarning;
        Tls = new Reloadable<ClientTlsState>($"tunnel {options.Name}", () => ClientTlsState.Load(Volatile.Read(ref _policy), _time), _logger);
        _metrics = context.Metrics.For(options.Name);
        Tls.Reloaded += _ => CheckExpiry();
        CheckExpiry();
        Connector = new ServerConnector(options, Tls, context.Metrics, _logger, _time);
        _limitWarning = new MaxConnectionsWarning(options.Name, context.Limiter.Limit, _metrics, _logger, _time);
        _listener = new TcpListenerLoop(options.Name, options.Listener, context.Limiter, context.Tracker, _logger, _time, _limitWarning.Reached);
        _admission = new ConnectionAdmission(options.Limits, _metrics, _logger, _time);
        _handler = new ClientConnectionHandler(options, Connector, _admission, context);
        if (process.WatchInterval != Timeout.InfiniteTimeSpan)
        {
            _watcher = new PolicyWatcher(options.Name, () => Volatile.Read(ref _policy).PolicyFiles, ReloadTls, CheckExpiry,
                process.WatchInterval, _logger, _time);
        }
    }

    public string Name => _startup.Name;

    public Reloadable<ClientTlsState> Tls { get; }

    public ServerConnector Connector { get; }

    public System.Net.IPEndPoint LocalEndPoint => _listener.LocalEndPoint;

    public void Bind()
    {
        _listener.Bind();
        Connector.StartWarmPool();
        var identity = Tls.Current.Identity is { } id ? CertificateInfo.ShortName(id.Certificate) : "no client certificate";
        LogListening(_logger, Name, _listener.LocalEndPoint.ToString(), string.Join(", ", _startup.Servers), _startup.ServerName, identity);
        if (Tls.Current.Identity is null)
        {
            LogNoClientCertificate(_logger, Name);
        }
    }

    public async Task RunAsync(CancellationToken stopAccepting)
    {
        await _listener.RunAsync(_handler.HandleAsync, stopAccepting);

        // Draining: nothing new will need a pooled connection.
        await Connector.StopWarmPoolAsync();
    }

    public TunnelReadiness Readiness(DateTimeOffset now) => ReadinessChecks.Evaluate(Name, _listener.IsListening ? _listener.LocalEndPoint.ToString() : null,
        Tls.Current.Identity?.NotAfter, Connector.Pool, "tunnel-server", now);

    /// <summary>Takes the TLS policy of a re-read configuration (certificate, CA, server name, SNI, ALPN, pins) and
    /// reloads; other changes are reported as needing a restart.</summary>
    public bool Apply(ClientTunnelOptions updated)
    {
        foreach (var change in RestartOnlyChanges(_startup, updated))
        {
            ReloadLog.NeedsRestart(_logger, $"tunnel {Name}: {change} changed");
        }

        Volatile.Write(ref _policy, updated);
        var ok = ReloadTls();
        _watcher?.MarkApplied();
        return ok;
    }

    private static IEnumerable<string> RestartOnlyChanges(ClientTunnelOptions running, ClientTunnelOptions updated)
    {
        if (running.Listener != updated.Listener)
        {
            yield return "listen";
        }

        if (!running.Servers.SequenceEqual(updated.Servers))
        {
            yield return "servers";
        }

        if (running.Timeouts != updated.Timeouts || running.KeepAlive != updated.KeepAlive || running.FirstByteTimeout != updated.FirstByteTimeout)
        {
            yield return "timeouts or keepAlive";
        }

        if (running.Limits != updated.Limits)
        {
            yield return "maxConnectionsPerSource";
        }

        if (running.Multiplex != updated.Multiplex || running.Pool != updated.Pool)
        {
            yield return "multiplex or pool settings";
        }
    }

    private bool ReloadTls()
    {
        var ok = Tls.Reload();
        _metrics.Reloaded(ok);
        return ok;
    }

    private void CheckExpiry()
    {
        var state = Tls.Current;
        _metrics.CertificatesExpire(state.Identity?.NotAfter,
            (state.Trust is { } trust ? trust.Roots.Concat(trust.Intermediates) : []).Select(c => c.NotAfter));
        ExpiryWarnings.Check(_logger, Name, state.Identity, state.Trust, revocation: null, _expiryWarning, _time.GetUtcNow());
    }

    public async ValueTask DisposeAsync()
    {
        await Connector.DisposeAsync();
        _watcher?.Dispose();
        _listener.Dispose();
        _admission.Dispose();
    }

    [LoggerMessage(EventId = 400, EventName = "ClientListening", Level = LogLevel.Information,
        Message = "tunnel {Tunnel}: listening on {Address}, tunneling to {Servers} (expecting {ServerName}, presenting {Identity})")]
    private static partial void LogListening(ILogger logger, string tunnel, string address, string servers, string serverName, string identity);

    [LoggerMessage(EventId = 401, EventName = "NoClientCertificate", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel}: no client certificate configured; tunnel-server requires one (set 'cert' and 'key')")]
    private static partial void LogNoClientCertificate(ILogger logger, string tunnel);
}
