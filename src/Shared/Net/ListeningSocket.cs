using System.Net;
using System.Net.Sockets;

namespace Tunnel.Net;

/// <summary>A bound, listening TCP socket for a configured address (a tunnel's listener, the admin endpoint): '*'
/// listens on IPv6 and IPv4 at once, the address is reusable at once after a restart, and a failure is a
/// <see cref="StartupException"/> that names <c>what</c> and says what to do.</summary>
internal static class ListeningSocket
{
    public static Socket Open(string what, HostPort listen, int backlog, bool reusePort = false)
    {
        if (!listen.TryGetBindAddress(out var address))
        {
            throw new StartupException($"{what}: cannot listen on {listen}: a listen address must be an IP address, 'localhost' or '*'");
        }

        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (reusePort)
            {
                SocketOptions.SetReusePort(socket);
            }

            socket.Bind(new IPEndPoint(address, listen.Port));
            socket.Listen(backlog);
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            var hint = ex.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => " (another process or another tunnel uses it; pick another port or stop that process)",
                SocketError.AccessDenied => " (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
                SocketError.AddressNotAvailable => " (that address is not configured on this host)",
                _ => "",
            };
            throw new StartupException($"{what}: cannot listen on {listen}: {SocketErrors.Describe(ex)}{hint}", ex);
        }
    }
}
