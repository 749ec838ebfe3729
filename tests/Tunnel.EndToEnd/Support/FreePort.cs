using System.Net;
using System.Net.Sockets;

namespace Tunnel.EndToEnd.Support;

/// <summary>Ports for daemons that cannot listen on port 0 and report back (Squid, nginx, stunnel): the kernel picks a
/// free one, which is released and handed over. Ports handed out in this run are never handed out again, so parallel
/// tests do not collide with each other.</summary>
internal static class FreePort
{
    private static readonly HashSet<int> Given = [];

    public static int Next()
    {
        while (true)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            lock (Given)
            {
                if (Given.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
