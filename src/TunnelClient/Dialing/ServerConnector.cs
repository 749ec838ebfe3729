using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tunnel.Balancing;
using Tunnel.Client.Options;
using Tunnel.Client.Tls;
using Tunnel.Common;
using Tunnel.Http;
using Tunnel.Metrics;
using Tunnel.Net;
using Tunnel.Relay;
using Tunnel.Tls;

namespace Tunnel.Client.Dialing;

/// <summary>Opens verified TLS connections to the tunnel's servers through the balancer (strategy, hedging,
/// retries, per-server circuit breakers, health probes), and explains failures in words an operator, and a user
/// behind Squid, can act on.</summary>
internal sealed class ServerConnector : IAsyncDisposable
{
    private readonly ClientTunnelOptions _options;
    private readonly Reloadable<ClientTlsState> _tls;
    private readonly TunnelSeries _metrics;
    private readonly TimeProvider _time;
    private readonly HealthProber? _prober;
    private readonly TunnelMetrics _allMetrics;
    private readonly ILogger _logger;

    public ServerConnector(ClientTunnelOptions options, Reloadable<ClientTlsState> tls, TunnelMetrics metrics, ILogger logger, TimeProvider time)
    {
        _options = options;
        _tls = tls;
        _metrics = metrics.For(options.Name);
        _allMetrics = metrics;
        _logger = logger;
        _time = time;
        Pool = new BackendPool(options.Name, options.Servers, options.Balancing, logger, time);
        var up = metrics.BackendUp("tunnel_server_up", "1 when the client considers a tunnel-server usable (health checks pass, circuit closed).");
        metrics.Registry.OnCollect(() =>
        {
            foreach (var backend in Pool.Backends)
            {
                up.WithLabels(options.Name, backend.Address.ToString()).Set(backend.IsAvailable ? 1 : 0);
            }
        });
        if (options.Balancing.HealthCheckInterval != Timeout.InfiniteTimeSpan)
        {
            _prober = new HealthProber(Pool, ProbeAsync, options.Timeouts.Connect + options.Timeouts.Handshake, time);
        }
    }

    public BackendPool Pool { get; }

    /// <summary>Ready connections, when the pool is enabled.</summary>
    public WarmPool? Warm { get; private set; }

    /// <summary>Multiplexed connections, when multiplexing is on.</summary>
    public MuxPool? Mux { get; private set; }

    /// <summary>Starts the warm pool, or the multiplexed connections (once the tunnel is listening; a tunnel that
    /// cannot bind should not dial).</summary>
    public void StartWarmPool()
    {
        if (_options.Multiplex.Enabled)
        {
            Mux ??= new MuxPool(_options.Name, EstablishAsync, _options.Multiplex, _options.Timeouts.Handshake, _allMetrics, _logger, _time);
            return;
        }

        if (_options.Pool.Size > 0 && Warm is null)
        {
            Warm = new WarmPool(_options.Name, EstablishAsync, _options.Pool, _allMetrics, _logger, _time);
        }
    }

    /// <summary>Draining: the warm pool closes; multiplexed connections close as their last streams end.</summary>
    public async Task StopWarmPoolAsync()
    {
        if (Warm is { } warm)
        {
            Warm = null;
            await warm.DisposeAsync();
        }

        Mux?.BeginDrain();
    }

    /// <summary>A verified connection to one of the servers: a stream on a multiplexed connection when multiplexing
    /// is on, else from the warm pool when one is ready, else a new one. Throws <see cref="TunnelConnectException"/>.</summary>
    public async Task<ServerConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        if (Mux is { Disabled: false } mux && await mux.OpenAsync(cancellationToken) is { } stream)
        {
            return stream;
        }

        return Warm?.TryTake() is { } pooled ? pooled : await EstablishAsync(cancellationToken);
    }

    /// <summary>A new verified connection through the balancer.</summary>
    public async Task<ServerConnection> EstablishAsync(CancellationToken cancellationToken)
    {
        try
        {
            var (connection, backend) = await Pool.ConnectAsync(
                (backend, token) => ConnectAsync(backend.Address, token),
                static loser => loser.Endpoint.Abort(),
                static ex => ex is TunnelConnectException { Retryable: true },
                cancellationToken);
            return connection with { Lease = backend.Lease() };
        }
        catch (BackendsDownException ex)
        {
            // A server that is known down because it failed verification is a 502, like the failure itself.
            var last = ex.InnerException as TunnelConnectException
                ?? Pool.Backends.Select(b => b.LastException).OfType<TunnelConnectException>().FirstOrDefault();
            var status = last?.Status ?? ProxyErrorResponse.ServiceUnavailable;
            var message = (ex.KnownDown, Pool.Backends) switch
            {
                (true, [var only]) => $"{only.LastError ?? $"tunnel-server {only.Address} is down"} (known down for " +
                    $"{only.SinceLastFailure?.TotalSeconds ?? 0:0.#}s; rechecked in the background)",
                (true, _) => $"every tunnel-server is down: {Pool.Describe()}",
                (false, [_]) when last is not null => last.Message,
                _ => $"no tunnel-server could be used: {ex.Message}",
            };
            throw new TunnelConnectException(status, string.Join(", ", _options.Servers), message, ex);
        }
    }

    /// <summary>One attempt on one server: TCP connect, then the TLS handshake with our verification.</summary>
    public async Task<ServerConnection> ConnectAsync(HostPort server, CancellationToken cancellationToken)
    {
        var socket = await OpenSocketAsync(server, cancellationToken);

        var state = _tls.Current;
        var check = new ServerCertificateCheck(state, _time);
        var endpoint = new TlsEndpoint(socket, new NetworkStream(socket, ownsSocket: true));
        using var scope = new TimeoutScope(_options.Timeouts.Handshake, _time, cancellationToken);
        var started = _time.GetTimestamp();
        try
        {
            await endpoint.AuthenticateAsClientAsync(state.CreateOptions(check), scope.Token);
            _metrics.Handshaked(_time.GetElapsedTime(started), endpoint.Resumed);
            return new ServerConnection(endpoint, server, check.Verdict?.PeerName ?? "-");
        }
        catch (Exception ex)
        {
            await endpoint.DisposeAsync();
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            _metrics.UpstreamConnectErrors(server.ToString()).Increment();
            var reason = scope.TimedOut
                ? $"TLS handshake with tunnel-server {server} timed out after {Durations.Format(_options.Timeouts.Handshake)} (something on the path may be holding TLS)"
                : check.Verdict is { Ok: false } verdict
                    ? $"refusing tunnel-server {server}: {verdict.Reason}"
                    : $"TLS handshake with tunnel-server {server} failed: {SocketErrors.Describe(ex)}";
            throw new TunnelConnectException(ProxyErrorResponse.BadGateway, server.ToString(), reason, ex)
            {
                Retryable = check.Verdict is not { Ok: false },
            };
        }
    }

    /// <summary>A TCP connection to the server: direct, or a tunnel through the site's outbound proxy.</summary>
    private async Task<Socket> OpenSocketAsync(HostPort server, CancellationToken cancellationToken)
    {
        if (_options.Proxy is not { } proxy)
        {
            try
            {
                return await TcpConnector.ConnectAsync(server, _options.Timeouts.Connect, _options.KeepAlive, _time, cancellationToken);
            }
            catch (ConnectException ex)
            {
                _metrics.UpstreamConnectErrors(server.ToString()).Increment();
                throw new TunnelConnectException(ProxyErrorResponse.ServiceUnavailable, server.ToString(), $"tunnel-server {ex.Message}", ex);
            }
        }

        Socket socket;
        try
        {
            socket = await TcpConnector.ConnectAsync(proxy.Address, _options.Timeouts.Connect, _options.KeepAlive, _time, cancellationToken);
        }
        catch (ConnectException ex)
        {
            _metrics.UpstreamConnectErrors(server.ToString()).Increment();
            throw new TunnelConnectException(ProxyErrorResponse.ServiceUnavailable, server.ToString(), $"outbound proxy {ex.Message}", ex);
        }

        using var scope = new TimeoutScope(_options.Timeouts.Connect, _time, cancellationToken);
        try
        {
            await HttpConnectTunnel.EstablishAsync(socket, server, proxy, scope.Token);
            return socket;
        }
        catch (Exception ex) when (ex is OutboundProxyException or SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            _metrics.UpstreamConnectErrors(server.ToString()).Increment();
            var message = ex switch
            {
                OutboundProxyException => ex.Message,
                OperationCanceledException => $"outbound proxy {proxy.Address} did not answer CONNECT to {server} within {Durations.Format(_options.Timeouts.Connect)}",
                _ => $"outbound proxy {proxy.Address}: {SocketErrors.Describe(ex)}",
            };

            // A proxy that refuses (403/407) will refuse again: no retry round, and a 502 names the proxy's answer.
            throw new TunnelConnectException(ex is OutboundProxyException { Status: not null } ? ProxyErrorResponse.BadGateway : ProxyErrorResponse.ServiceUnavailable,
                server.ToString(), message, ex)
            {
                Retryable = ex is not OutboundProxyException { Status: not null },
            };
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Active health check: a full handshake (which also proves the server still accepts our certificate
    /// chain and name), then a clean close.</summary>
    private async Task ProbeAsync(Backend backend, CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(backend.Address, cancellationToken);
        await using (connection.Endpoint)
        {
            // close_notify, then wait for the server's end: closing with its bytes unread would send an RST.
            await connection.Endpoint.CompleteWritesAsync(cancellationToken);
            var sink = new byte[256];
            while (await connection.Endpoint.Stream.ReadAsync(sink, cancellationToken) > 0)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _prober?.Dispose();
        if (Warm is { } warm)
        {
            Warm = null;
            await warm.DisposeAsync();
        }

        if (Mux is { } mux)
        {
            Mux = null;
            await mux.DisposeAsync();
        }
    }
}
