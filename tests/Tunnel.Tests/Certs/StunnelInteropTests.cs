using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Tunnel.Tests.Certs;

/// <summary>Certificates from <c>certs</c> work in stunnel, with chain verification and client certificates
/// required: a stunnel server in front of an echo service and a stunnel client in front of the test, both using our
/// files. This is the mixed-fleet case DESIGN.md promises.</summary>
public sealed class StunnelInteropTests : IAsyncLifetime
{
    private const int Timeout = 120_000;
    private readonly CertsSandbox _pki = new();
    private readonly CancellationTokenSource _deadline = new(TimeSpan.FromSeconds(90));

    public async Task InitializeAsync()
    {
        _ = StunnelProcess.Executable;
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "server", "tunnel.local", "--dns", "tunnel.local,localhost", "--ip", "127.0.0.1");
        await _pki.OkAsync("issue", "client", "dev-client");
        await _pki.OkAsync("issue", "client", "site-b");
        await _pki.OkAsync("crl");
    }

    public Task DisposeAsync()
    {
        _deadline.Dispose();
        _pki.Dispose();
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeout)]
    public async Task A_stunnel_pair_using_our_certificates_carries_a_payload_intact_both_ways()
    {
        await using var backend = new EchoBackend();
        await using var server = await StartServerAsync(backend.Port, withCrl: false);
        await using var client = await StartClientAsync(server.Port, "dev-client", _pki);
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024 + 17);

        var echoed = await ExchangeAsync(client.Port, payload);

        Assert.True(echoed.Length == payload.Length, $"got {echoed.Length} of {payload.Length} bytes back\nserver log:\n{server.Log}\nclient log:\n{client.Log}");
        var sent = SHA256.HashData(payload);
        Assert.Equal(sent, await backend.FirstConnectionHash.WaitAsync(_deadline.Token));
        Assert.Equal(sent, SHA256.HashData(echoed));
        await server.WaitForLogAsync("Certificate accepted at depth=0: CN=dev-client", LogWait);
        await client.WaitForLogAsync("Certificate accepted at depth=0: CN=tunnel.local", LogWait);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_client_certificate_from_another_ca_is_refused_by_the_stunnel_server()
    {
        using var other = new CertsSandbox();
        await other.OkAsync("init-ca", "--cn", "Somebody Else's CA");
        await other.OkAsync("issue", "client", "intruder");
        await using var backend = new EchoBackend();
        await using var server = await StartServerAsync(backend.Port, withCrl: false);
        await using var client = await StartClientAsync(server.Port, "intruder", other);

        var echoed = await ExchangeAsync(client.Port, RandomNumberGenerator.GetBytes(4096));

        Assert.Empty(echoed);
        Assert.Equal(0, backend.Accepted);
        await server.WaitForLogAsync("Rejected by CERT at depth=0: CN=intruder", LogWait);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_revoked_client_is_refused_by_a_stunnel_server_loading_our_crl_while_others_still_pass()
    {
        await _pki.OkAsync("revoke", "dev-client", "--reason", "keyCompromise");
        await _pki.OkAsync("crl");
        await using var backend = new EchoBackend();
        await using var server = await StartServerAsync(backend.Port, withCrl: true);
        await using var revokedClient = await StartClientAsync(server.Port, "dev-client", _pki);
        await using var goodClient = await StartClientAsync(server.Port, "site-b", _pki);
        var payload = RandomNumberGenerator.GetBytes(10_000);

        var refused = await ExchangeAsync(revokedClient.Port, payload);
        var accepted = await ExchangeAsync(goodClient.Port, payload);

        Assert.Empty(refused);
        await server.WaitForLogAsync("certificate revoked", LogWait);
        Assert.Equal(payload, accepted);
        Assert.Equal(1, backend.Accepted);
    }

    private static readonly TimeSpan LogWait = TimeSpan.FromSeconds(10);

    private Task<StunnelProcess> StartServerAsync(int backendPort, bool withCrl) =>
        StunnelProcess.StartAsync(_pki.Folder, "srv",
            $"connect = 127.0.0.1:{backendPort}\n" +
            $"cert = {_pki.PathOf("issued/tunnel.local.pem")}\n" +
            $"key = {_pki.PathOf("private/tunnel.local.key")}\n" +
            $"CAfile = {_pki.PathOf("ca-bundle.pem")}\n" +
            (withCrl ? $"CRLfile = {_pki.PathOf("crl.pem")}\n" : "") +
            "verifyChain = yes\nrequireCert = yes\n",
            _deadline.Token);

    private Task<StunnelProcess> StartClientAsync(int serverPort, string name, CertsSandbox issuer) =>
        StunnelProcess.StartAsync(_pki.Folder, "cli-" + name,
            "client = yes\n" +
            $"connect = 127.0.0.1:{serverPort}\n" +
            $"cert = {issuer.PathOf($"issued/{name}.pem")}\n" +
            $"key = {issuer.PathOf($"private/{name}.key")}\n" +
            $"CAfile = {_pki.PathOf("ca-bundle.pem")}\n" +
            "verifyChain = yes\ncheckHost = tunnel.local\n",
            _deadline.Token);

    /// <summary>Sends the payload and reads back as many bytes (or until the tunnel closes), both at once so neither
    /// direction waits on the other's buffers.</summary>
    private async Task<byte[]> ExchangeAsync(int port, byte[] payload)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), _deadline.Token);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // The refusal can be that quick: stunnel accepted, was refused by its server and reset the connection
            // before this side heard that the connect had completed.
            return [];
        }

        var sending = SendAsync(socket, payload);
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while (received.Length < payload.Length && (read = await socket.ReceiveAsync(buffer, _deadline.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException)
        {
            // A refused tunnel is reset; what arrived before that is the result.
        }

        await sending;
        return received.ToArray();
    }

    private async Task SendAsync(Socket socket, byte[] payload)
    {
        try
        {
            await socket.SendAsync(payload, _deadline.Token);
        }
        catch (SocketException)
        {
            // Refused tunnels reset the connection mid-send.
        }
    }
}
