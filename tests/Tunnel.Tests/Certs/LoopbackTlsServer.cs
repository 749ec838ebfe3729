using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;

namespace Tunnel.Tests.Certs;

/// <summary>A TLS server on 127.0.0.1, port 0, presenting a certificate and its intermediates; it records the SNI
/// each client sent and otherwise reads until the client leaves.</summary>
internal sealed class LoopbackTlsServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly SslStreamCertificateContext _context;
    private readonly Channel<string> _serverNames = Channel.CreateUnbounded<string>();

    public LoopbackTlsServer(X509Certificate2 certificate, X509Certificate2Collection intermediates)
    {
        _context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The SNI of each completed handshake, in order ("" when the client sent none).</summary>
    public ChannelReader<string> ServerNames => _serverNames.Reader;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificateContext = _context }, deadline.Token);
            _serverNames.Writer.TryWrite(tls.TargetHostName);
            var buffer = new byte[1024];
            while (await tls.ReadAsync(buffer, deadline.Token) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
            // The inspecting client hangs up right after the handshake; how it does so is not under test.
        }
    }
}
