using Microsoft.Extensions.Logging;
using Tunnel.Client.Options;
using Tunnel.Hosting;
using Tunnel.Logging;
using Tunnel.Metrics;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Client;

/// <summary>The composition root of tunnel-client: builds every tunnel from validated options. Used by the program
/// and by in-process tests alike.</summary>
internal sealed class ClientApp : IDaemonApp<ClientOptions>
{
    private readonly ConnectionLimiter _limiter;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _abort = new();

    private readonly ClientOptions _options;
    private readonly ILogger _logger;

    private ClientApp(ClientOptions options, ILoggerFactory loggers, TimeProvider time)
    {
        _options = options;
        var logger = _logger = loggers.CreateLogger("tunnel-client");
        _limiter = new ConnectionLimiter(options.Process.MaxConnections);
        Tracker = new ConnectionTracker();
        Metrics = new TunnelMetrics("tunnel-client");
        var context = new DaemonContext(logger, time, Metrics, _limiter, Tracker, new ConnectionIds(), options.Process.Log.QuietConnections, _stop.Token, _abort.Token);
        var tunnels = new List<ClientTunnel>();
        var errors = new List<string>();
        foreach (var tunnelOptions in options.Tunnels)
        {
            try
            {
                tunnels.Add(new ClientTunnel(tunnelOptions, options.Process, context));
            }
            catch (CertificateLoadException ex)
            {
                errors.Add($"tunnel {tunnelOptions.Name}: {ex.Message}");
            }
        }

        if (errors.Count > 0)
        {
            throw new CertificateLoadException(string.Join(Environment.NewLine, errors));
        }

        Tunnels = tunnels;
        Host = new DaemonHost(tunnels, Tracker, _stop, _abort, options.Process, Metrics, loggers, logger, time);
    }

    public IReadOnlyList<ClientTunnel> Tunnels { get; }

    public ConnectionTracker Tracker { get; }

    public TunnelMetrics Metrics { get; }

    public DaemonHost Host { get; }

    public static ClientApp Create(ClientOptions options, ILoggerFactory loggers, TimeProvider time) => new(options, loggers, time);

    public bool Reload(ClientOptions options)
    {
        ProcessReload.ReportRestartOnly(_logger, _options.Process, options.Process, Tunnels.Select(t => t.Name), options.Tunnels.Select(t => t.Name));
        var ok = true;
        foreach (var tunnel in Tunnels)
        {
            if (options.Tunnels.FirstOrDefault(t => t.Name == tunnel.Name) is { } updated)
            {
                ok &= tunnel.Apply(updated);
            }
        }

        return ok;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var tunnel in Tunnels)
        {
            await tunnel.DisposeAsync();
        }

        Host.Dispose();
        _limiter.Dispose();
        _stop.Dispose();
        _abort.Dispose();
    }
}
