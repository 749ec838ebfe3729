using System.Net.Security;
using System.Net.Sockets;
using Tunnel.Client.Options;
using Tunnel.Client.Tls;
using Tunnel.Config;
using Tunnel.Http;
using Tunnel.Metrics;
using Tunnel.Net;
using Tunnel.Relay;
using Tunnel.Tls;

namespace Tunnel.Client.Connect;

/// <summary>Opens verified TLS connections to the tunnel's servers, in order, and explains failures in words an
/// operator (and a user behind Squid) can act on.</summary>
internal sealed class ServerConnector(ClientTunnelOptions options, Reloadable<ClientTlsState> tls, TunnelSeries metrics, TimeProvider time)
{
    public async Task<ServerConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        TunnelConnectException? last = null;
        foreach (var server in options.Servers)
        {
            try
            {
                return await ConnectAsync(server, cancellationToken);
            }
            catch (TunnelConnectException ex)
            {
                last = ex;
            }
        }

        throw last ?? new TunnelConnectException(ProxyErrorResponse.ServiceUnavailable, "-", "no tunnel-server configured");
    }

    public async Task<ServerConnection> ConnectAsync(HostPort server, CancellationToken cancellationToken)
    {
        Socket socket;
        try
        {
            socket = await TcpConnector.ConnectAsync(server, options.Timeouts.Connect, options.KeepAlive, time, cancellationToken);
        }
        catch (ConnectException ex)
        {
            metrics.UpstreamConnectErrors(server.ToString()).Increment();
            throw new TunnelConnectException(ProxyErrorResponse.ServiceUnavailable, server.ToString(), $"tunnel-server {ex.Message}", ex);
        }

        var state = tls.Current;
        var check = new ServerCertificateCheck(state, time);
        var stream = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        using var scope = new TimeoutScope(options.Timeouts.Handshake, time, cancellationToken);
        var started = time.GetTimestamp();
        try
        {
            await stream.AuthenticateAsClientAsync(state.CreateOptions(check), scope.Token);
            metrics.Handshake.Observe(time.GetElapsedTime(started).TotalSeconds);
            return new ServerConnection(new TlsEndpoint(socket, stream), server, check.Verdict?.PeerName ?? "-");
        }
        catch (Exception ex)
        {
            await stream.DisposeAsync();
            socket.Dispose();
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            metrics.UpstreamConnectErrors(server.ToString()).Increment();

            var reason = scope.TimedOut
                ? $"TLS handshake with tunnel-server {server} timed out after {Durations.Format(options.Timeouts.Handshake)} (something on the path may be holding TLS)"
                : check.Verdict is { Ok: false } verdict
                    ? $"refusing tunnel-server {server}: {verdict.Reason}"
                    : $"TLS handshake with tunnel-server {server} failed: {SocketErrors.Describe(ex)}";
            throw new TunnelConnectException(ProxyErrorResponse.BadGateway, server.ToString(), reason, ex);
        }
    }
}
