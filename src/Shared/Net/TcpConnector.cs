using System.Net;
using System.Net.Sockets;

namespace Tunnel.Net;

/// <summary>Dials TCP connections under a timeout and turns failures into <see cref="ConnectException"/>s that say
/// what went wrong.</summary>
internal static class TcpConnector
{
    public static async Task<Socket> ConnectAsync(
        HostPort target,
        TimeSpan timeout,
        KeepAliveOptions keepAlive,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        using var scope = new TimeoutScope(timeout, time, cancellationToken);

        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(target.Host, out var literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(target.Host, scope.Token);
        }
        catch (SocketException ex)
        {
            throw new ConnectException(ConnectFailure.Dns, target, $"cannot resolve {target.Host}: {SocketErrors.Describe(ex)}", ex);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ConnectException(ConnectFailure.Dns, target, $"resolving {target.Host} timed out after {timeout.TotalSeconds:0.###}s");
        }

        if (addresses.Length == 0)
        {
            throw new ConnectException(ConnectFailure.Dns, target, $"{target.Host} has no address");
        }

        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                SocketTuning.Apply(socket, keepAlive);
                await socket.ConnectAsync(new IPEndPoint(address, target.Port), scope.Token);
                return socket;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new ConnectException(ConnectFailure.Timeout, target, $"connecting to {target} timed out after {timeout.TotalSeconds:0.###}s (a firewall may be dropping packets)");
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        var error = (last as SocketException)?.SocketErrorCode ?? SocketError.SocketError;
        var failure = error switch
        {
            SocketError.ConnectionRefused => ConnectFailure.Refused,
            SocketError.TimedOut => ConnectFailure.Timeout,
            SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.NetworkDown or SocketError.HostDown => ConnectFailure.Unreachable,
            _ => ConnectFailure.Other,
        };
        throw new ConnectException(failure, target, $"cannot connect to {target}: {SocketErrors.Describe(last)}", last);
    }
}
