using System.Net.Sockets;
using System.Text;

namespace Tunnel.Tests.Support;

/// <summary>Sends a proxy request over a plain socket, as Squid would, and reads the whole answer.</summary>
internal static class ProxyExchange
{
    public static async Task<string> SendAsync(Socket socket, string request, TimeSpan timeout)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None);
        var response = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(timeout)) > 0)
            {
                response.Write(buffer, 0, read);
            }
        }
        catch (SocketException) when (response.Length > 0)
        {
            // A reset after the answer still leaves the answer to check.
        }

        return Encoding.UTF8.GetString(response.ToArray());
    }
}
