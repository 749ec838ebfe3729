using Microsoft.Extensions.Logging;
using Tunnel.Admin;
using Tunnel.Admission;
using Tunnel.Common;
using Tunnel.Config;
using Tunnel.Hosting;
using Tunnel.Metrics;
using Tunnel.Net;
using Tunnel.Net.ProxyProtocol;
using Tunnel.Server.Connections;
using Tunnel.Server.Options;
using Tunnel.Server.Tls;
using Tunnel.Server.Upstream;
using Tunnel.Tls;

namespace Tunnel.Server;

/// <summary>One configured server tunnel: its listener, its reloadable TLS policy and its connection handler.</summary>
internal sealed partial class ServerTunnel : ITunnelService<ServerTunnelOptions>
{
    private readonly ServerTunnelOptions _startup;
    private readonly TcpListenerLoop _listener;
    private readonly ServerConnectionHandler _handler;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _expiryWarning;
    private readonly PolicyWatcher? _watcher;
    private readonly TunnelSeries _metrics;
    private readonly MaxConnectionsWarning _limitWarning;
    private readonly ConnectionAdmission _admission;
    private ServerTunnelOptions _policy;

    public ServerTunnel(ServerTunnelOptions options, ProcessOptions process, DaemonContext context)
    {
        _startup = options;
        _policy = options;
        _logger = context.Logger;
        _time = context.Time;
        _expiryWarning = process.CertificateExpiryWarning;
        Tls = new Reloadable<ServerTlsState>($"tunnel {options.Name}", () => ServerTlsState.Load(Volatile.Read(ref _policy), _time), _logger);
        _metrics = context.Metrics.For(options.Name);
        context.Metrics.RegisterSessionCache();
        Tls.Reloaded += _ => CheckExpiry();
        CheckExpiry();
        _limitWarning = new MaxConnectionsWarning(options.Name, context.Limiter.Limit, _metrics, _logger, _time);
        _listener = new TcpListenerLoop(options.Name, options.Listener, context.Limiter, context.Tracker, _logger, _time, _limitWarning.Reached);
        Upstream = new UpstreamConnector(options, context.Metrics, _logger, _time);
        _admission = new ConnectionAdmission(options.Edge.Limits, _metrics, _logger, _time);
        _handler = new ServerConnectionHandler(options, Tls, Upstream, _admission, context);
        if (options.Edge.Decoy is not null)
        {
            _metrics.Accepted(AcceptOutcome.Decoy);
        }

        if (options.Edge.ProxyProtocol != ProxyProtocolMode.Off)
        {
            _metrics.Accepted(AcceptOutcome.BadProxyHeader);
        }
        if (process.WatchInterval != Timeout.InfiniteTimeSpan)
        {
            _watcher = new PolicyWatcher(options.Name, () => Volatile.Read(ref _policy).PolicyFiles, ReloadTls, CheckExpiry,
                process.WatchInterval, _logger, _time);
        }
    }

    public string Name => _startup.Name;

    public Reloadable<ServerTlsState> Tls { get; }

    public UpstreamConnector Upstream { get; }

    public System.Net.IPEndPoint LocalEndPoint => _listener.LocalEndPoint;

    public void Bind()
    {
        _listener.Bind();
        LogListening(_logger, Name, _listener.LocalEndPoint.ToString(), string.Join(", ", _startup.Upstreams),
            CertificateInfo.ShortName(Tls.Current.Identity.Certificate));
    }

    public Task RunAsync(CancellationToken stopAccepting) => _listener.RunAsync(_handler.HandleAsync, stopAccepting);

    public TunnelReadiness Readiness(DateTimeOffset now) => ReadinessChecks.Evaluate(Name, _listener.IsListening ? _listener.LocalEndPoint.ToString() : null,
        Tls.Current.Identity.NotAfter, Upstream.Pool, "upstream proxy", now);

    /// <summary>Takes the TLS policy of a re-read configuration and reloads; other changes are reported as needing
    /// a restart.</summary>
    public bool Apply(ServerTunnelOptions updated)
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

    private static IEnumerable<string> RestartOnlyChanges(ServerTunnelOptions running, ServerTunnelOptions updated)
    {
        if (running.Listener != updated.Listener)
        {
            yield return "listen";
        }

        if (!running.Upstreams.SequenceEqual(updated.Upstreams))
        {
            yield return "upstreams";
        }

        if (running.Timeouts != updated.Timeouts || running.KeepAlive != updated.KeepAlive || running.Dial != updated.Dial)
        {
            yield return "timeouts, keepAlive or upstreamDial";
        }

        if (running.Edge != updated.Edge)
        {
            yield return "proxyProtocol, upstreamProxyProtocol, decoy or a connection limit";
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
            (state.ClientCa is { } trust ? trust.Roots.Concat(trust.Intermediates) : []).Select(c => c.NotAfter), state.Revocation?.NextUpdate);
        ExpiryWarnings.Check(_logger, Name, state.Identity, state.ClientCa, state.Revocation, _expiryWarning, _time.GetUtcNow());
    }

    public ValueTask DisposeAsync()
    {
        Upstream.Dispose();
        _admission.Dispose();
        _watcher?.Dispose();
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 300, EventName = "ServerListening", Level = LogLevel.Information,
        Message = "tunnel {Tunnel}: listening on {Address} (TLS as {Certificate}), forwarding authenticated clients to {Upstream}")]
    private static partial void LogListening(ILogger logger, string tunnel, string address, string upstream, string certificate);
}
