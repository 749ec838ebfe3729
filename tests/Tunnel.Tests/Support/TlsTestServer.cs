using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tests.Support;

/// <summary>A TLS server on loopback presenting whatever certificate a test wants (an expired one, one from another
/// CA, one for another name): a stand-in for a misconfigured server or an intercepting middlebox.</summary>
internal sealed class TlsTestServer : IAsyncDisposable
{
    private readonly TcpTestServer _tcp;

    public TlsTestServer((string Cert, string Key) certificate)
    {
        var identity = X509Certificate2.CreateFromPemFile(certificate.Cert, certificate.Key);
        _tcp = new TcpTestServer(async socket =>
        {
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = identity,
                ClientCertificateRequired = false,
            });
            var buffer = new byte[1024];
            while (await tls.ReadAsync(buffer) > 0)
            {
            }
        });
    }

    public string Address => _tcp.Address;

    public ValueTask DisposeAsync() => _tcp.DisposeAsync();
}
