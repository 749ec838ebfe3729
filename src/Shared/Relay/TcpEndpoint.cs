using System.Net.Sockets;

namespace Tunnel.Relay;

/// <summary>A plain TCP side of a relay. Half-close is a FIN; abort is an RST.</summary>
internal sealed class TcpEndpoint(Socket socket) : IRelayEndpoint
{
    private readonly NetworkStream _stream = new(socket, ownsSocket: true);

    public Socket Socket => socket;

    public Stream Stream => _stream;

    private int _writesCompleted;

    /// <summary>Sends FIN; idempotent.</summary>
    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _writesCompleted, 1) == 0)
        {
            socket.Shutdown(SocketShutdown.Send);
        }

        return ValueTask.CompletedTask;
    }

    public void Abort() => SocketClose.Reset(socket);

    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}
