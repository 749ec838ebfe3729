using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Relay;

namespace Tunnel.Fuzz;

/// <summary>Two ends of a real TLS 1.3 connection on loopback (port 0), as the multiplexing code runs on: the server
/// presents a throwaway self-signed certificate, made once per process, which the client pins.</summary>
internal sealed class LoopbackTls : IAsyncDisposable
{
    private static readonly Lazy<X509Certificate2> Certificate = new(() =>
    {
        var (cert, key) = SelfSignedPem();
        return X509Certificate2.CreateFromPem(cert, key);
    });

    private static readonly Lazy<Socket> Listener = new(() =>
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(64);
        return listener;
    });

    private static readonly SemaphoreSlim OneAtATime = new(1, 1);

    private LoopbackTls(TlsEndpoint client, TlsEndpoint server)
    {
        Client = client;
        Server = server;
    }

    public TlsEndpoint Client { get; }

    public TlsEndpoint Server { get; }

    public static async Task<LoopbackTls> ConnectAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var clientSocket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Socket serverSocket;

        // One accept at a time, so that each connect is paired with its own accept.
        await OneAtATime.WaitAsync(timeout.Token);
        try
        {
            var accept = Listener.Value.AcceptAsync(timeout.Token);
            await clientSocket.ConnectAsync(Listener.Value.LocalEndPoint!, timeout.Token);
            serverSocket = await accept;
        }
        finally
        {
            OneAtATime.Release();
        }

        var client = new TlsEndpoint(clientSocket, new NetworkStream(clientSocket, ownsSocket: true));
        var server = new TlsEndpoint(serverSocket, new NetworkStream(serverSocket, ownsSocket: true));
        var serverHandshake = server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = Certificate.Value,
            EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls13,
        }, timeout.Token);
        await client.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "fuzz.test",
            EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls13,
            // Pinned to the one certificate this process made.
            RemoteCertificateValidationCallback = static (_, presented, _, _) =>
                presented is not null && presented.GetCertHashString() == Certificate.Value.GetCertHashString(),
        }, timeout.Token);
        await serverHandshake;
        return new LoopbackTls(client, server);
    }

    /// <summary>A self-signed ECDSA P-256 certificate and its key, in PEM.</summary>
    public static (string Cert, string Key) SelfSignedPem()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=fuzz.test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("fuzz.test");
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return (cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}
