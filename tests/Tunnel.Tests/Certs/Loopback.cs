using System.Net;
using System.Net.Sockets;

namespace Tunnel.Tests.Certs;

/// <summary>Loopback helpers for the interop tests.</summary>
internal static class Loopback
{
    /// <summary>A port that was free a moment ago, for tools that cannot report the port they bound. A tool that
    /// then fails to bind is retried by the caller with another.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
