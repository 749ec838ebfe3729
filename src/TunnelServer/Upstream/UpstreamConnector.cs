using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tunnel.Balancing;
using Tunnel.Metrics;
using Tunnel.Net;
using Tunnel.Net.ProxyProtocol;
using Tunnel.Server.Options;

namespace Tunnel.Server.Upstream;

/// <summary>Dials the configured upstream proxies through the balancer (strategy, bounded retries with backoff,
/// per-upstream circuit breakers, TCP health probes). It is the only place tunnel-server opens connections to,
/// which is what keeps it from being an open relay: nothing a client sends chooses the destination.</summary>
internal sealed class UpstreamConnector : IDisposable
{
    private readonly ServerTunnelOptions _options;
    private readonly TimeProvider _time;
    private readonly HealthProber? _prober;

    public UpstreamConnector(ServerTunnelOptions options, TunnelMetrics metrics, ILogger logger, TimeProvider time)
    {
        _options = options;
        _time = time;
        Pool = new BackendPool(options.Name, options.Upstreams, options.Balancing, logger, time);
        var up = metrics.BackendUp("tunnel_upstream_up", "1 when the server considers an upstream usable (health checks pass, circuit closed).");
        metrics.Registry.OnCollect(() =>
        {
            foreach (var backend in Pool.Backends)
            {
                up.WithLabels(options.Name, backend.Address.ToString()).Set(backend.IsAvailable ? 1 : 0);
            }
        });
        if (options.Balancing.HealthCheckInterval != Timeout.InfiniteTimeSpan)
        {
            _prober = new HealthProber(Pool, ProbeAsync, options.Timeouts.Connect, time);
        }
    }

    public BackendPool Pool { get; }

    /// <summary>A connection to an upstream. Throws <see cref="BackendsDownException"/> listing each upstream's
    /// state when none can be reached.</summary>
    public async Task<(Socket Socket, HostPort Upstream, IDisposable Lease)> ConnectAsync(CancellationToken cancellationToken)
    {
        var (socket, backend) = await Pool.ConnectAsync(
            (backend, token) => TcpConnector.ConnectAsync(backend.Address, _options.Timeouts.Connect, _options.KeepAlive, _time, token),
            static loser => loser.Dispose(),
            static ex => ex is ConnectException,
            cancellationToken);
        return (socket, backend.Address, backend.Lease());
    }

    /// <summary>Active health check: a TCP connect and close. An upstream that requires a PROXY header gets one that
    /// says the connection is the server's own (proxy-protocol.txt §2.1 and §2.2: a v1 line with the probe's own
    /// endpoints, or a v2 LOCAL command), so it does not log every probe as a protocol error.</summary>
    private async Task ProbeAsync(Backend backend, CancellationToken cancellationToken)
    {
        using var socket = await TcpConnector.ConnectAsync(backend.Address, _options.Timeouts.Connect, Net.KeepAliveOptions.Off, _time, cancellationToken);
        if (_options.Edge.UpstreamProxyProtocol is { } version)
        {
            var header = version == ProxyProtocolVersion.V1
                ? ProxyHeaderWriter.Build(version, (IPEndPoint)socket.LocalEndPoint!, (IPEndPoint)socket.RemoteEndPoint!)
                : ProxyHeaderWriter.Local();
            await socket.SendAsync(header, SocketFlags.None, cancellationToken);
        }
    }

    public void Dispose() => _prober?.Dispose();
}
