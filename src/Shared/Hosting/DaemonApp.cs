using Microsoft.Extensions.Logging;
using Tunnel.Config;
using Tunnel.Logging;
using Tunnel.Metrics;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Hosting;

/// <summary>What a daemon's options give <see cref="DaemonApp{TOptions, TTunnelOptions, TTunnel}"/>: the
/// process-wide settings and one entry per tunnel.</summary>
internal interface IDaemonOptions<out TTunnelOptions>
    where TTunnelOptions : ITunnelOptions
{
    ProcessOptions Process { get; }

    IReadOnlyList<TTunnelOptions> Tunnels { get; }
}

/// <summary>One tunnel's options: a reload matches old and new by name.</summary>
internal interface ITunnelOptions
{
    string Name { get; }

    /// <summary>True when the tunnel verifies its peer against the system certificate store, not a CA file of its own
    /// (<see cref="SystemTrustStore"/>).</summary>
    bool UsesSystemTrust => false;
}

/// <summary>A tunnel that takes a re-read configuration while it runs.</summary>
internal interface ITunnelService<in TTunnelOptions> : ITunnelService
{
    /// <summary>Applies the tunnel's new TLS policy and files; true when all of it is in effect.</summary>
    bool Apply(TTunnelOptions updated);
}

/// <summary>A daemon built from validated options: one tunnel per configured entry, sharing one
/// <see cref="DaemonContext"/> (logger, metrics, connection cap, tracker, drain and abort tokens) and one
/// <see cref="DaemonHost"/>. tunnel-client and tunnel-server differ only in the tunnel they build; the program and the
/// in-process tests start and stop it alike.</summary>
internal sealed class DaemonApp<TOptions, TTunnelOptions, TTunnel> : IDaemonApp<TOptions>
    where TOptions : IDaemonOptions<TTunnelOptions>
    where TTunnelOptions : ITunnelOptions
    where TTunnel : class, ITunnelService<TTunnelOptions>
{
    private readonly ConnectionLimiter _limiter;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _abort = new();

    private readonly TOptions _options;
    private readonly ILogger _logger;

    /// <summary>Builds every tunnel, loading its certificates. Throws <see cref="CertificateLoadException"/> naming
    /// each tunnel whose material is unusable, not only the first.</summary>
    public DaemonApp(string programName, TOptions options, ILoggerFactory loggers, TimeProvider time,
        Func<TTunnelOptions, ProcessOptions, DaemonContext, TTunnel> createTunnel)
    {
        _options = options;
        var logger = _logger = loggers.CreateLogger(programName);
        _limiter = new ConnectionLimiter(options.Process.MaxConnections);
        Tracker = new ConnectionTracker();
        Metrics = new TunnelMetrics(programName);
        var context = new DaemonContext(logger, time, Metrics, _limiter, Tracker, new ConnectionIds(), options.Process.Log.QuietConnections, _stop.Token, _abort.Token);
        var tunnels = new List<TTunnel>();
        var errors = new List<string>();
        foreach (var tunnelOptions in options.Tunnels)
        {
            try
            {
                tunnels.Add(createTunnel(tunnelOptions, options.Process, context));
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

    public IReadOnlyList<TTunnel> Tunnels { get; }

    public ConnectionTracker Tracker { get; }

    public TunnelMetrics Metrics { get; }

    public DaemonHost Host { get; }

    public bool Reload(TOptions options)
    {
        ProcessReload.ReportRestartOnly(_logger, _options.Process, options.Process, Tunnels.Select(t => t.Name), options.Tunnels.Select(t => t.Name));
        if (SystemTrustStore.Skipped)
        {
            foreach (var tunnel in options.Tunnels.Where(t => t.UsesSystemTrust))
            {
                ReloadLog.NeedsRestart(_logger, $"tunnel {tunnel.Name} now verifies its server against the system certificate store (no ca), which this process did not load at start; until then its handshakes fail");
            }
        }

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
