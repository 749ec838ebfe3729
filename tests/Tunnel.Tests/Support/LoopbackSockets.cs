using System.Net;
using System.Net.Sockets;

namespace Tunnel.Tests.Support;

/// <summary>Connected TCP sockets over loopback, for tests that drive both ends of one connection themselves.</summary>
internal static class LoopbackSockets
{
    /// <summary>A new loopback TCP connection: the connecting socket and the accepted one.</summary>
    public static async Task<(Socket Client, Socket Server)> ConnectAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accepting = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        return (client, await accepting);
    }
}
