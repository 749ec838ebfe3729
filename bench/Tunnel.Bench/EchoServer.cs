using System.Net;
using System.Net.Sockets;

namespace Tunnel.Bench;

/// <summary>The idle-connection upstream: echoes what it receives and keeps the connection until the peer closes.</summary>
internal static class EchoServer
{
    public static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var listen = args.Loopback("listen");
        var maxSeconds = args.Double("max-seconds", 3600);
        args.ThrowIfUnused();

        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lifetime.CancelAfter(TimeSpan.FromSeconds(maxSeconds));
        using var listener = Listen(listen);
        Console.WriteLine($"echo: listening on {listener.LocalEndPoint}");
        try
        {
            while (true)
            {
                var socket = await listener.AcceptAsync(lifetime.Token);
                _ = EchoAsync(socket, lifetime.Token);
            }
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
    }

    public static Socket Listen(IPEndPoint endpoint)
    {
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(endpoint);
        listener.Listen(4096);
        return listener;
    }

    private static async Task EchoAsync(Socket socket, CancellationToken cancellationToken)
    {
        using (socket)
        {
            socket.NoDelay = true;
            var buffer = new byte[512];
            try
            {
                while (true)
                {
                    var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                    if (read == 0)
                    {
                        socket.Shutdown(SocketShutdown.Send);
                        return;
                    }

                    await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, cancellationToken);
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // A reset or the end of the run: nothing to report for an echo server.
            }
        }
    }
}
