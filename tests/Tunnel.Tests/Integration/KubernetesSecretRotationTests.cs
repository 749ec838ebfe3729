using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>Certificates from a Kubernetes Secret volume, rotated the way the kubelet does it (an atomic swap of the
/// <c>..data</c> symlink), are picked up by the file watch while established connections carry on.</summary>
public sealed class KubernetesSecretRotationTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private const UnixFileMode SecretMode = UnixFileMode.UserRead | UnixFileMode.GroupRead; // defaultMode: 0440, root-owned
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 90_000)]
    public async Task A_symlink_swap_rotates_the_server_certificate_for_new_handshakes_while_a_long_transfer_carries_on_both_ways()
    {
        const int Half = 4 * 1024 * 1024;
        var rotated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstreamReceived = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        string? downloadSent = null;
        await using var upstream = new TcpTestServer(async socket =>
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var receive = Payload.ReceiveAsync(stream);
            downloadSent = await SendGatedAsync(stream, Half, seed: 7, rotated.Task);
            socket.Shutdown(SocketShutdown.Send);
            upstreamReceived.TrySetResult((await receive).Sha256);
        });

        var first = _pki.IssueServer("tunnel.test");
        var secret = new KubeletSecretVolume(Path.Combine(_pki.Folder, "tunnel-server-tls"), SecretMode);
        secret.Write(SecretData(first));
        Assert.Equal("..data/tls.crt", new FileInfo(secret.PathOf("tls.crt")).LinkTarget);

        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["cert"] = secret.PathOf("tls.crt");
            s["key"] = secret.PathOf("tls.key");
            s["ca"] = secret.PathOf("ca.crt");
            s["watchInterval"] = "200ms";
        });
        Assert.Equal(Thumbprint(first.Cert), await ServedThumbprintAsync(tunnel));

        // A long transfer both ways: half of each direction before the swap, the other half after it.
        using var socket = await tunnel.ConnectClientAsync();
        using var stream = new NetworkStream(socket);
        var download = Payload.ReceiveAsync(stream);
        var upload = SendGatedAsync(stream, Half, seed: 8, rotated.Task);
        await tunnel.Server.Tracker.WhenActiveAsync(1).WaitAsync(Wait);

        var second = _pki.IssueServer("tunnel.test");
        secret.Write(SecretData(second));
        Assert.Single(Directory.GetDirectories(secret.Directory, "..20*")); // the old payload folder is gone

        await _logs.WaitForAsync("files changed; reloading", Wait);
        await _logs.WaitForAsync("reloaded certificates and trust material", Wait);
        Assert.Equal(Thumbprint(second.Cert), await ServedThumbprintAsync(tunnel));
        rotated.SetResult();

        var uploadSent = await upload.WaitAsync(Wait);
        socket.Shutdown(SocketShutdown.Send);
        var (downloadHash, downloadLength) = await download.WaitAsync(Wait);
        Assert.Equal(2L * Half, downloadLength);
        Assert.Equal(downloadSent, downloadHash);
        Assert.Equal(uploadSent, await upstreamReceived.Task.WaitAsync(Wait));
        Assert.Equal(1, upstream.Accepted);
    }

    /// <summary>Sends <paramref name="half"/> bytes, waits for <paramref name="gate"/>, sends as many again; returns the
    /// SHA-256 of all of it.</summary>
    private static async Task<string> SendGatedAsync(Stream stream, int half, int seed, Task gate)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new Random(seed);
        var buffer = new byte[64 * 1024];
        for (var part = 0; part < 2; part++)
        {
            if (part == 1)
            {
                await gate;
            }

            for (var sent = 0; sent < half; sent += buffer.Length)
            {
                random.NextBytes(buffer);
                hash.AppendData(buffer);
                await stream.WriteAsync(buffer);
            }
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private Dictionary<string, byte[]> SecretData((string Cert, string Key) issued) => new()
    {
        ["tls.crt"] = File.ReadAllBytes(issued.Cert),
        ["tls.key"] = File.ReadAllBytes(issued.Key),
        ["ca.crt"] = File.ReadAllBytes(_pki.CaPath),
    };

    private async Task<string> ServedThumbprintAsync(TunnelHarness tunnel)
    {
        await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, _pki.IssueClient());
        return new X509Certificate2(tls.RemoteCertificate!).Thumbprint;
    }

    private static string Thumbprint(string pemPath)
    {
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(pemPath));
        return certificate.Thumbprint;
    }

    public void Dispose() => _pki.Dispose();
}
