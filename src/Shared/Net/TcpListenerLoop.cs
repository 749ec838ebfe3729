using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Tunnel.Net;

/// <summary>Binds a listening socket and runs its accept loop: a concurrency slot is taken before each accept, accept
/// errors caused by resource exhaustion (EMFILE) give back the <see cref="DescriptorReserve"/> and back off
/// exponentially instead of spinning, accepting again only once the reserve can be taken back, and every accepted
/// socket is handed to the connection handler on the thread pool.</summary>
internal sealed partial class TcpListenerLoop : IDisposable
{
    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    private readonly string _name;
    private readonly ListenerOptions _options;
    private readonly ConnectionLimiter _limiter;
    private readonly ConnectionTracker _tracker;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Action? _limitReached;
    private Socket? _socket;

    /// <param name="name">The tunnel's name, for log lines.</param>
    /// <param name="options">Where and how to listen.</param>
    /// <param name="limiter">The process-wide maxConnections, taken before each accept.</param>
    /// <param name="tracker">Counts connections in flight.</param>
    /// <param name="logger">Log.</param>
    /// <param name="time">Clock.</param>
    /// <param name="limitReached">Called each time the limiter is full and accept has to wait for a connection to
    /// close (the caller counts and logs it).</param>
    public TcpListenerLoop(string name, ListenerOptions options, ConnectionLimiter limiter, ConnectionTracker tracker, ILogger logger, TimeProvider time,
        Action? limitReached = null)
    {
        _limitReached = limitReached;
        _name = name;
        _options = options;
        _limiter = limiter;
        _tracker = tracker;
        _logger = logger;
        _time = time;
    }

    private IPEndPoint? _localEndPoint;
    private volatile bool _listening;

    /// <summary>True from a successful bind until the accept loop stops.</summary>
    public bool IsListening => _listening;

    /// <summary>The bound address (with the real port when 0 was configured); kept after the listener closes.</summary>
    public IPEndPoint LocalEndPoint => _localEndPoint ?? throw new InvalidOperationException("not bound");

    /// <summary>Binds and listens. Throws <see cref="StartupException"/> with an operator-facing message.</summary>
    public void Bind()
    {
        var socket = ListeningSocket.Open($"tunnel '{_name}'", _options.Address, _options.Backlog, _options.ReusePort);
        _socket = socket;
        _localEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _listening = true;
        DescriptorReserve.TryHold();
    }

    /// <summary>Accepts until <paramref name="stopAccepting"/> fires, then closes the listening socket. Handlers
    /// keep running; the tracker says when they are done.</summary>
    public async Task RunAsync(Func<Socket, Task> handler, CancellationToken stopAccepting)
    {
        var socket = _socket ?? throw new InvalidOperationException("Bind() first");
        var backoff = TimeSpan.Zero;
        try
        {
            while (!stopAccepting.IsCancellationRequested)
            {
                if (!_limiter.TryWait())
                {
                    _limitReached?.Invoke();
                    await _limiter.WaitAsync(stopAccepting);
                }

                if (!DescriptorReserve.TryHold())
                {
                    // Still out of descriptors: the reserve stays with the process, and nothing is accepted yet.
                    _limiter.Release();
                    backoff = NextBackoff(backoff);
                    LogAcceptBackoff(_logger, _name, SocketErrors.Describe(SocketError.TooManyOpenSockets), backoff.TotalMilliseconds, _tracker.Active);
                    await Task.Delay(backoff, _time, stopAccepting);
                    continue;
                }

                Socket accepted;
                try
                {
                    accepted = await socket.AcceptAsync(stopAccepting);
                    backoff = TimeSpan.Zero;
                }
                catch (SocketException ex) when (SocketErrors.IsResourceExhaustion(ex))
                {
                    DescriptorReserve.Release();
                    _limiter.Release();
                    backoff = NextBackoff(backoff);
                    LogAcceptBackoff(_logger, _name, SocketErrors.Describe(ex), backoff.TotalMilliseconds, _tracker.Active);
                    await Task.Delay(backoff, _time, stopAccepting);
                    continue;
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
                {
                    // The peer gave up while in the backlog.
                    _limiter.Release();
                    continue;
                }
                catch
                {
                    _limiter.Release();
                    throw;
                }

                _tracker.Enter();
                ThreadPool.UnsafeQueueUserWorkItem(
                    static state => _ = state.Loop.RunHandlerAsync(state.Handler, state.Socket),
                    (Loop: this, Handler: handler, Socket: accepted),
                    preferLocal: false);
            }
        }
        catch (OperationCanceledException) when (stopAccepting.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            _listening = false;
            socket.Dispose();
        }
    }

    private async Task RunHandlerAsync(Func<Socket, Task> handler, Socket socket)
    {
        try
        {
            await handler(socket);
        }
        catch (Exception ex)
        {
            // Handlers report their own errors; this is the last line of defence against a crashed process.
            LogHandlerFailed(_logger, _name, ex);
            socket.Dispose();
        }
        finally
        {
            _limiter.Release();
            _tracker.Exit();
        }
    }

    private static TimeSpan NextBackoff(TimeSpan backoff) =>
        backoff == TimeSpan.Zero ? MinBackoff : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));

    public void Dispose() => _socket?.Dispose();

    [LoggerMessage(EventId = 100, EventName = "AcceptBackoff", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel}: accept failed ({Error}); backing off {BackoffMs} ms with {Active} connections open (raise the open-file limit or lower max connections)")]
    private static partial void LogAcceptBackoff(ILogger logger, string tunnel, string error, double backoffMs, int active);

    [LoggerMessage(EventId = 101, EventName = "HandlerFailed", Level = LogLevel.Error,
        Message = "tunnel {Tunnel}: connection handler failed unexpectedly")]
    private static partial void LogHandlerFailed(ILogger logger, string tunnel, Exception exception);
}
