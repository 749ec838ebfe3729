using System.Net.Sockets;
using Tunnel.Net;
using Tunnel.Server.Options;

namespace Tunnel.Server.Upstream;

/// <summary>Dials the configured upstream. It is the only place tunnel-server opens connections to, which is what
/// keeps it from being an open relay: nothing a client sends chooses the destination.</summary>
internal sealed class UpstreamConnector(ServerTunnelOptions options, TimeProvider time)
{
    private int _next;

    /// <summary>Tries each configured upstream once, starting with the next in turn, and returns the first that
    /// accepts.</summary>
    public async Task<(Socket Socket, HostPort Upstream)> ConnectAsync(CancellationToken cancellationToken)
    {
        var upstreams = options.Upstreams;
        var start = upstreams.Count == 1 ? 0 : (int)((uint)Interlocked.Increment(ref _next) % (uint)upstreams.Count);
        ConnectException? last = null;
        for (var i = 0; i < upstreams.Count; i++)
        {
            var upstream = upstreams[(start + i) % upstreams.Count];
            try
            {
                var socket = await TcpConnector.ConnectAsync(upstream, options.Timeouts.Connect, options.KeepAlive, time, cancellationToken);
                return (socket, upstream);
            }
            catch (ConnectException ex)
            {
                last = ex;
            }
        }

        throw last!;
    }
}
