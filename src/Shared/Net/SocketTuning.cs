using System.Net.Sockets;

namespace Tunnel.Net;

/// <summary>Options applied to every connected socket: no Nagle delay (a relay must not hold back small writes) and
/// TCP keepalive.</summary>
internal static class SocketTuning
{
    // IPPROTO_TCP / TCP_USER_TIMEOUT on Linux (linux/tcp.h); .NET has no named option for it.
    private const int TcpUserTimeout = 18;

    public static void Apply(Socket socket, KeepAliveOptions keepAlive)
    {
        socket.NoDelay = true;
        if (keepAlive.UnacknowledgedTimeout != Timeout.InfiniteTimeSpan && OperatingSystem.IsLinux())
        {
            socket.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpUserTimeout,
                BitConverter.GetBytes((int)keepAlive.UnacknowledgedTimeout.TotalMilliseconds));
        }

        if (!keepAlive.Enabled)
        {
            return;
        }

        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, Seconds(keepAlive.Idle));
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Seconds(keepAlive.Interval));
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, keepAlive.Count);
    }

    private static int Seconds(TimeSpan value) => Math.Max(1, (int)Math.Ceiling(value.TotalSeconds));
}
