using System.Net;
using System.Net.Sockets;

namespace Tunnel.Tests.Support;

/// <summary>A loopback TCP server on port 0 that runs a handler per connection and counts what it accepted, so tests
/// can assert that an upstream was (or was never) dialled.</summary>
internal sealed class TcpTestServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<Socket, Task> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<Task> _handlers = [];
    private int _accepted;

    public TcpTestServer(Func<Socket, Task> handler)
        : this(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp), handler)
    {
    }

    /// <summary>Listens with <paramref name="listener"/>, a new unbound IPv4 TCP socket the caller made (one made in
    /// another network namespace listens on that namespace's loopback).</summary>
    public TcpTestServer(Socket listener, Func<Socket, Task> handler)
    {
        _handler = handler;
        _listener = listener;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        _loop = Task.Run(AcceptLoopAsync); // on the thread pool, not xunit's context (see TunnelHarness)
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public string Address => $"127.0.0.1:{Port}";

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>A handler that reads and never answers, as a black hole behind a TCP proxy does.</summary>
    public static async Task Silent(Socket socket)
    {
        var buffer = new byte[4096];
        while (await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None) > 0)
        {
        }
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptAsync(_stop.Token);
                Interlocked.Increment(ref _accepted);
                lock (_handlers)
                {
                    _handlers.Add(Task.Run(async () =>
                    {
                        try
                        {
                            await _handler(socket);
                        }
                        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
                        {
                            // Tests that reset connections make their handlers fail; that is what they test.
                        }
                        finally
                        {
                            socket.Dispose();
                        }
                    }));
                }
            }
        }
        catch (Exception ex) when (_stop.IsCancellationRequested && ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Disposing the listener can fail the pending accept with OperationAborted before the token's
            // cancellation reaches it; either way the server is stopping.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _loop;
        Task[] handlers;
        lock (_handlers)
        {
            handlers = [.. _handlers];
        }

        await Task.WhenAll(handlers).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }
}
