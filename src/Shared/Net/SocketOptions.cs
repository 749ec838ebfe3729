using System.Net.Sockets;

namespace Tunnel.Net;

/// <summary>Socket options .NET has no named constant for.</summary>
internal static class SocketOptions
{
    // SOL_SOCKET / SO_REUSEPORT on Linux (asm-generic/socket.h).
    private const int SolSocket = 1;
    private const int SoReusePort = 15;

    public static void SetReusePort(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("SO_REUSEPORT is supported on Linux only");
        }

        socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
    }
}
