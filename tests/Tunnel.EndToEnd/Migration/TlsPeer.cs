using System.Net;
using System.Security.Authentication;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;

namespace Tunnel.EndToEnd.Migration;

/// <summary>The same TLS client in front of stunnel and of tunnel-server: a full-duplex transfer with a client
/// certificate, or a check that a certificate is refused.</summary>
internal static class TlsPeer
{
    /// <summary>A TLS client with <paramref name="identity"/>: sends a payload, reads until the server closes, then
    /// half-closes (stunnel's order, see TunnelClientAgainstStunnelServer). Returns (sent hash, received hash).</summary>
    public static async Task<((string, long) Up, (string, long) Down)> TransferAsync(int port, TestPki pki, (string Cert, string Key) identity, long size, int seed,
        CancellationToken deadline)
    {
        await using var tls = await TlsTestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), pki.Root, identity, ProxyChain.ServerName,
            cancellationToken: deadline);
        var receive = Payload.ReceiveAsync(tls, deadline);
        var sent = await Payload.SendAsync(tls, size, seed, cancellationToken: deadline);
        var down = await receive;
        try
        {
            await tls.ShutdownAsync();
        }
        catch (IOException)
        {
            // The server closed the connection after its close_notify; the upload was sent before it.
        }

        Assert.Equal(Payload.Expected(size, seed), sent);
        return ((sent, size), down);
    }

    public static async Task<bool> IsRefusedAsync(int port, TestPki pki, (string Cert, string Key) identity, CancellationToken deadline)
    {
        try
        {
            await using var tls = await TlsTestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), pki.Root, identity, ProxyChain.ServerName,
                cancellationToken: deadline);
            return await TlsTestClient.IsRefusedAsync(tls, TimeSpan.FromSeconds(20));
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            return true;
        }
    }
}
