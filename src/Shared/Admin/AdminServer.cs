using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Tunnel.Metrics;
using Tunnel.Net;

namespace Tunnel.Admin;

/// <summary>The admin endpoint: <c>/healthz</c> (the process answers), <c>/readyz</c> (every tunnel listening with a
/// valid certificate and a backend that answered recently; 503 otherwise, and while draining), <c>/metrics</c>
/// (Prometheus text format), over plain HTTP/1.1 for probes and scrapers on a private network.</summary>
/// <remarks>A server of its own rather than Kestrel: three read-only resources need GET, HEAD, keep-alive and a bounded
/// request head, and Kestrel with its hosting stack made each Native AOT daemon 4.4 MB larger and 4-5 MiB bigger in
/// memory even when the endpoint was off (docs/operations.md, "Footprint"). At most <see cref="MaxConnections"/>
/// connections at once (more are answered 503 and closed), each given <see cref="AdminServerLimits.RequestTimeout"/>
/// for every request head, the first and each kept-alive one; these connections do not count against
/// <c>maxConnections</c>.</remarks>
internal sealed partial class AdminServer : IAsyncDisposable
{
    /// <summary>Admin connections served at once.</summary>
    public const int MaxConnections = 16;

    private static readonly string[] Paths = ["/healthz", "/readyz", "/metrics"];

    private readonly Socket _listener;
    private readonly Func<bool> _stopping;
    private readonly IReadOnlyList<IReadinessSource> _tunnels;
    private readonly MetricsRegistry _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly AdminServerLimits _limits;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<Task> _connections = [];
    private readonly Task _accepting;
    private int _disposed;

    private AdminServer(Socket listener, Func<bool> stopping, IReadOnlyList<IReadinessSource> tunnels, MetricsRegistry metrics, ILogger logger,
        TimeProvider time, AdminServerLimits limits)
    {
        _listener = listener;
        _stopping = stopping;
        _tunnels = tunnels;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        _limits = limits;
        EndPoint = (IPEndPoint)listener.LocalEndPoint!;
        _accepting = AcceptAsync();
    }

    public IPEndPoint EndPoint { get; }

    public static Task<AdminServer> StartAsync(HostPort listen, Func<bool> stopping, IReadOnlyList<IReadinessSource> tunnels,
        MetricsRegistry metrics, ILoggerFactory loggers, TimeProvider time, CancellationToken cancellationToken, AdminServerLimits? limits = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var socket = ListeningSocket.Open("admin endpoint", listen, backlog: 64);
        var logger = loggers.CreateLogger("admin");
        var server = new AdminServer(socket, stopping, tunnels, metrics, logger, time, limits ?? AdminServerLimits.Default);
        LogListening(logger, server.EndPoint.ToString());
        return Task.FromResult(server);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _listener.AcceptAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of descriptors, or a connection reset before it was accepted: the next accept may work.
                LogAcceptFailed(_logger, SocketErrors.Describe(ex));
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time, _stop.Token).ContinueWith(static _ => { }, TaskScheduler.Default);
                continue;
            }

            lock (_connections)
            {
                var full = _connections.Count >= MaxConnections;
                var task = full ? RefuseAsync(accepted) : ServeAsync(accepted);
                _connections.Add(task);
                _ = task.ContinueWith(t =>
                {
                    lock (_connections)
                    {
                        _connections.Remove(t);
                    }
                }, TaskScheduler.Default);
            }
        }
    }

    private async Task RefuseAsync(Socket socket)
    {
        using (socket)
        {
            using var timeout = new CancellationTokenSource(_limits.RequestTimeout);
            try
            {
                await socket.SendAsync(Response(503, "Service Unavailable", "text/plain; charset=utf-8",
                    Encoding.UTF8.GetBytes($"too many admin connections (at most {MaxConnections})\n"), head: false, keepAlive: false), timeout.Token);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
            }
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            socket.NoDelay = true;
            var buffer = new byte[AdminRequest.MaxHeadBytes];
            var filled = 0;
            try
            {
                while (true)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    timeout.CancelAfter(_limits.RequestTimeout);
                    int length;
                    while ((length = AdminRequest.HeadLength(buffer.AsSpan(0, filled))) < 0)
                    {
                        if (filled == buffer.Length)
                        {
                            await socket.SendAsync(Response(431, "Request Header Fields Too Large", "text/plain; charset=utf-8",
                                Encoding.UTF8.GetBytes($"the request head is over {AdminRequest.MaxHeadBytes} bytes\n"), head: false, keepAlive: false), timeout.Token);
                            return;
                        }

                        var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token);
                        if (read == 0)
                        {
                            return;
                        }

                        filled += read;
                    }

                    var request = AdminRequest.Parse(buffer.AsSpan(0, length));
                    var keepAlive = request.KeepAlive && !_stop.IsCancellationRequested;
                    await socket.SendAsync(Answer(request, keepAlive), timeout.Token);
                    if (!keepAlive || request.Error != 0)
                    {
                        socket.Shutdown(SocketShutdown.Send);
                        return;
                    }

                    // A pipelined request may already be in the buffer.
                    buffer.AsSpan(length, filled - length).CopyTo(buffer);
                    filled -= length;
                }
            }
            catch (OperationCanceledException)
            {
                // No complete request within the limit, or the daemon is stopping: the connection just closes.
            }
            catch (SocketException)
            {
            }
        }
    }

    /// <summary>The whole response to <paramref name="request"/>, head and body.</summary>
    private byte[] Answer(AdminRequest request, bool keepAlive)
    {
        const string Text = "text/plain; charset=utf-8";
        if (request.Error != 0)
        {
            var (status, reason) = request.Error == 505 ? (505, "HTTP Version Not Supported") : (400, "Bad Request");
            return Response(status, reason, Text, Encoding.UTF8.GetBytes(reason.ToLowerInvariant() + "\n"), head: false, keepAlive: false);
        }

        var head = request.Method == "HEAD";
        if (!Paths.Contains(request.Path))
        {
            return Response(404, "Not Found", Text, "not found: the admin endpoint serves /healthz, /readyz and /metrics\n"u8.ToArray(), head, keepAlive);
        }

        if (request.Method is not ("GET" or "HEAD"))
        {
            return Response(405, "Method Not Allowed", Text, "only GET and HEAD\n"u8.ToArray(), head: false, keepAlive, "Allow: GET, HEAD\r\n");
        }

        switch (request.Path)
        {
            case "/healthz":
                return Response(200, "OK", Text, "ok\n"u8.ToArray(), head, keepAlive);
            case "/readyz":
                var now = _time.GetUtcNow();
                var report = _tunnels.Select(t => t.Readiness(now)).ToList();
                var stopping = _stopping();
                var ready = !stopping && report.All(t => t.Ready);
                var body = new ReadinessReport(stopping ? "stopping" : ready ? "ready" : "not ready", report);
                return Response(ready ? 200 : 503, ready ? "OK" : "Service Unavailable", "application/json; charset=utf-8",
                    JsonSerializer.SerializeToUtf8Bytes(body, AdminJsonContext.Default.ReadinessReport), head, keepAlive);
            default:
                return Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", Encoding.UTF8.GetBytes(_metrics.Render()), head, keepAlive);
        }
    }

    private static byte[] Response(int status, string reason, string contentType, byte[] body, bool head, bool keepAlive, string extraHeaders = "")
    {
        var lines = $"HTTP/1.1 {status} {reason}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n" +
            $"Cache-Control: no-store\r\n{extraHeaders}{(keepAlive ? "" : "Connection: close\r\n")}\r\n";
        var response = new byte[lines.Length + (head ? 0 : body.Length)];
        Encoding.ASCII.GetBytes(lines, response);
        if (!head)
        {
            body.CopyTo(response, lines.Length);
        }

        return response;
    }

    /// <summary>Stops accepting, closes every admin connection and waits (at most 2 s) for them to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        _listener.Dispose();
        Task[] open;
        lock (_connections)
        {
            open = [.. _connections];
        }

        await Task.WhenAll(open.Append(_accepting)).WaitAsync(TimeSpan.FromSeconds(2), _time).ContinueWith(static _ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 30, EventName = "AdminListening", Level = LogLevel.Information,
        Message = "admin endpoint on http://{Address} (/healthz, /readyz, /metrics)")]
    private static partial void LogListening(ILogger logger, string address);

    [LoggerMessage(EventId = 31, EventName = "AdminAcceptFailed", Level = LogLevel.Warning,
        Message = "admin endpoint: accepting a connection failed: {Reason}; trying again")]
    private static partial void LogAcceptFailed(ILogger logger, string reason);
}

/// <summary>The admin endpoint's time limit (a setting for tests; the daemons use <see cref="Default"/>).</summary>
/// <param name="RequestTimeout">For each request head to arrive whole, from the connection's start or the previous
/// answer: a client that says nothing, or too slowly, is closed after it.</param>
internal sealed record AdminServerLimits(TimeSpan RequestTimeout)
{
    public static AdminServerLimits Default { get; } = new(TimeSpan.FromSeconds(30));
}
