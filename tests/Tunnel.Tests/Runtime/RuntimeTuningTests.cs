using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Tunnel.Net;
using Tunnel.Runtime;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Runtime;

/// <summary>The process-level tuning measured in bench/: OpenSSL buffers released when idle, memory given back after
/// connections close, and silent paths failing fast.</summary>
public sealed class RuntimeTuningTests : IDisposable
{
    private readonly TestPki _pki = new();

    [Fact(Timeout = 30_000)]
    public async Task OpenSsl_release_buffers_mode_is_set_on_a_live_connection()
    {
        // If a runtime update moves SslStream's private field this turns itself off silently; this test says so.
        Assert.True(OpenSslBuffers.Supported, "SslStream._securityContext or libssl's SSL_ctrl is no longer where it was");
        var (cert, key) = _pki.IssueServer();
        using var identity = X509Certificate2.CreateFromPemFile(cert, key);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var clientSocket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await clientSocket.ConnectAsync(listener.LocalEndPoint!);
        using var serverSocket = await listener.AcceptAsync();
        await using var server = new SslStream(new NetworkStream(serverSocket));
        await using var client = new SslStream(new NetworkStream(clientSocket));
        await Task.WhenAll(
            server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = identity }),
            client.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "tunnel.test",
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { _pki.Root },
                    RevocationMode = X509RevocationMode.NoCheck,
                },
            }));

        var mode = OpenSslBuffers.ReleaseWhenIdle(server);

        Assert.NotNull(mode);
        Assert.Equal(0x10, mode & 0x10);
    }

    [Fact]
    public void The_trimmer_runs_once_connections_have_fallen_and_settled_and_not_while_busy()
    {
        var tracker = new ConnectionTracker();
        var trimmer = new MemoryTrimmer(tracker, NullLogger.Instance, new ManualTimeProvider());
        for (var i = 0; i < 400; i++)
        {
            tracker.Enter();
        }

        Assert.False(trimmer.Check()); // busy: nothing fell
        Assert.False(trimmer.Check());
        for (var i = 0; i < 350; i++)
        {
            tracker.Exit();
        }

        Assert.False(trimmer.Check()); // just fell: wait one period for it to settle
        Assert.True(trimmer.Check());
        Assert.False(trimmer.Check()); // the new peak is what is left
        trimmer.Dispose();
    }

    [Fact]
    public void Sockets_get_tcp_user_timeout_keepalive_and_no_delay()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        SocketTuning.Apply(socket, KeepAliveOptions.Default with { UnacknowledgedTimeout = TimeSpan.FromSeconds(7) });

        var value = new byte[4];
        socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, 18 /* TCP_USER_TIMEOUT */, value);
        Assert.Equal(7000, BitConverter.ToInt32(value));
        Assert.True(socket.NoDelay);
        Assert.Equal(1, (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
        Assert.Equal(60, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime)!);
    }

    public void Dispose() => _pki.Dispose();
}
