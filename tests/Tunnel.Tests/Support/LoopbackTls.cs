using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace Tunnel.Tests.Support;

/// <summary>A TLS connection over loopback for tests that drive both handshakes themselves (the resumption tests): two
/// SslStreams not yet authenticated, and a server side that answers with one byte.</summary>
internal static class LoopbackTls
{
    /// <summary>What <see cref="ServeOneByteAsync"/> writes.</summary>
    public const byte Answer = 0x2A;

    /// <summary>Two SslStreams over a new loopback TCP connection, each owning its socket.</summary>
    public static async Task<(SslStream Client, SslStream Server)> ConnectAsync()
    {
        var (clientSocket, serverSocket) = await LoopbackSockets.ConnectAsync();
        return (new SslStream(new NetworkStream(clientSocket, ownsSocket: true)), new SslStream(new NetworkStream(serverSocket, ownsSocket: true)));
    }

    /// <summary>The server's handshake, then <see cref="Answer"/> (a TLS 1.3 session ticket goes ahead of it). A failed
    /// handshake (either side refused) closes the connection, so the client sees its end.</summary>
    public static async Task ServeOneByteAsync(SslStream tls, SslServerAuthenticationOptions options, CancellationToken cancellationToken)
    {
        try
        {
            await tls.AuthenticateAsServerAsync(options, cancellationToken);
            await tls.WriteAsync(new[] { Answer }, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException)
        {
            tls.Close();
        }
    }
}
