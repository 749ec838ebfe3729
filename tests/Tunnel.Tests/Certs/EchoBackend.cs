using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Tunnel.Tests.Certs;

/// <summary>A loopback TCP echo service that hashes what it receives, so a test can tell the bytes that reached the
/// far end from the bytes that came back.</summary>
internal sealed class EchoBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly TaskCompletionSource<byte[]> _firstHash = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _accepted;

    public EchoBackend()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>SHA-256 of everything the first connection sent, once it closed its side.</summary>
    public Task<byte[]> FirstConnectionHash => _firstHash.Task;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (true)
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

            Interlocked.Increment(ref _accepted);
            _ = EchoAsync(socket);
        }
    }

    private async Task EchoAsync(Socket socket)
    {
        using (socket)
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            var buffer = new byte[64 * 1024];
            try
            {
                int read;
                while ((read = await socket.ReceiveAsync(buffer, _stop.Token)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await socket.SendAsync(buffer.AsMemory(0, read), _stop.Token);
                }

                _firstHash.TrySetResult(hash.GetHashAndReset());
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                _firstHash.TrySetException(ex);
            }
        }
    }
}
