using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Net;
using Tunnel.Relay;

namespace Tunnel.Tests.Support;

/// <summary>Two <see cref="TlsEndpoint"/>s connected over loopback and authenticated (a server certificate from
/// <paramref name="Server"/>'s PKI, no client certificate), each with its socket writes counted.</summary>
internal sealed record TlsEndpointPair(TlsEndpointPair.Side Server, TlsEndpointPair.Side Client) : IAsyncDisposable
{
    public static async Task<TlsEndpointPair> ConnectAsync(TestPki pki, TimeSpan timeout)
    {
        var (clientSocket, serverSocket) = await LoopbackSockets.ConnectAsync();

        var pair = new TlsEndpointPair(new Side(serverSocket), new Side(clientSocket));
        var (cert, key) = pki.IssueServer();
        using var identity = X509Certificate2.CreateFromPemFile(cert, key);
        await Task.WhenAll(
            pair.Server.Endpoint.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = identity }, CancellationToken.None),
            pair.Client.Endpoint.AuthenticateAsClientAsync(TlsTestClient.Options(pki.Root, clientCertificate: null), CancellationToken.None)).WaitAsync(timeout);
        return pair;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Client.DisposeAsync();
    }

    internal sealed class Side : IAsyncDisposable
    {
        public Side(Socket socket)
        {
            Transport = new CountingStream(new NetworkStream(socket, ownsSocket: true));
            Endpoint = new TlsEndpoint(socket, Transport);
        }

        /// <summary>The socket's stream, under TLS.</summary>
        public CountingStream Transport { get; }

        public TlsEndpoint Endpoint { get; }

        public ValueTask DisposeAsync() => Endpoint.DisposeAsync();
    }

    /// <summary>Counts the writes that reach the socket, and can hold them back (a peer that stopped reading).</summary>
    internal sealed class CountingStream(Stream inner) : ReadWrappingStream(inner, ownsInner: true)
    {
        private int _writes;
        private volatile TaskCompletionSource? _paused;

        public int Writes => Volatile.Read(ref _writes);

        /// <summary>Writes from now on wait until <see cref="ResumeWrites"/>.</summary>
        public void PauseWrites() => _paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void ResumeWrites() => _paused?.TrySetResult();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Inner.ReadAsync(buffer, cancellationToken);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _writes);
            if (_paused is { } paused)
            {
                await paused.Task.WaitAsync(cancellationToken);
            }

            await Inner.WriteAsync(buffer, cancellationToken);
        }
    }
}
