using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tests.Support;

/// <summary>A hand-driven TLS client for talking to tunnel-server directly, with or without a client certificate.</summary>
internal static class TlsTestClient
{
    /// <param name="server">Where to connect.</param>
    /// <param name="trustedRoot">The CA the server certificate must chain to.</param>
    /// <param name="clientCertificate">The client certificate to present, or none.</param>
    /// <param name="targetHost">SNI and the name checked in the server certificate.</param>
    /// <param name="protocols">TLS versions offered.</param>
    /// <param name="preamble">Bytes written on the raw socket before the ClientHello, as a load balancer writes a PROXY
    /// header.</param>
    /// <param name="alpn">ALPN protocols offered (none by default).</param>
    /// <param name="cancellationToken">Bounds the connect and the handshake.</param>
    public static async Task<SslStream> ConnectAsync(IPEndPoint server, X509Certificate2 trustedRoot, (string Cert, string Key)? clientCertificate, string? targetHost = "tunnel.test",
        SslProtocols protocols = SslProtocols.Tls13, byte[]? preamble = null, IReadOnlyList<string>? alpn = null, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server, cancellationToken);
        if (preamble is not null)
        {
            await socket.SendAsync(preamble, SocketFlags.None, cancellationToken);
        }

        var stream = new SslStream(new NetworkStream(socket, ownsSocket: true));
        var options = Options(trustedRoot, clientCertificate, targetHost, protocols);
        if (alpn is not null)
        {
            options.ApplicationProtocols = alpn.Select(p => new SslApplicationProtocol(p)).ToList();
        }

        await stream.AuthenticateAsClientAsync(options, cancellationToken);
        return stream;
    }

    /// <summary>The options <see cref="ConnectAsync"/> uses, for a handshake on a connection opened otherwise. A full
    /// handshake every time unless <paramref name="resume"/>: .NET shares a client's sessions between every client
    /// stream of the process with the same certificate, protocols and server name, and a tunnel-client running in the
    /// test process keeps its sessions without the server's certificate (VerifiedServerSessions), which this client,
    /// judging by SslStream's verdict alone, would refuse.</summary>
    public static SslClientAuthenticationOptions Options(X509Certificate2 trustedRoot, (string Cert, string Key)? clientCertificate,
        string? targetHost = "tunnel.test", SslProtocols protocols = SslProtocols.Tls13, bool resume = false)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            EnabledSslProtocols = protocols,
            AllowTlsResume = resume,
            CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { trustedRoot },
                RevocationMode = X509RevocationMode.NoCheck,
            },
        };
        if (clientCertificate is { } pair)
        {
            options.ClientCertificates = [X509Certificate2.CreateFromPemFile(pair.Cert, pair.Key)];
        }

        return options;
    }

    /// <summary>After a TLS 1.3 handshake the client learns of a rejected certificate on its first read: returns
    /// true when the server refused (alert, reset or end of stream) instead of relaying.</summary>
    public static async Task<bool> IsRefusedAsync(SslStream stream, TimeSpan timeout)
    {
        try
        {
            await stream.WriteAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray());
            var buffer = new byte[256];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(timeout);
            return read == 0;
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException or SocketException)
        {
            return true;
        }
    }
}
