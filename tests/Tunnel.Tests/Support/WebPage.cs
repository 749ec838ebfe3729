using System.Net.Sockets;
using System.Text;

namespace Tunnel.Tests.Support;

/// <summary>A minimal web server handler for <see cref="TcpTestServer"/>: reads a request head and answers with a
/// fixed page, then closes, as the decoy website behind tunnel-server would.</summary>
internal static class WebPage
{
    public const string Body = "<html><body><h1>Welcome to nginx!</h1></body></html>\n";

    public static async Task ServeAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var head = new StringBuilder();
        var buffer = new byte[1024];
        int read;
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && (read = await stream.ReadAsync(buffer)) > 0)
        {
            head.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        var response = $"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: {Body.Length}\r\nConnection: close\r\n\r\n{Body}";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(response));
        socket.Shutdown(SocketShutdown.Send);
        while (await stream.ReadAsync(buffer) > 0)
        {
        }
    }
}
