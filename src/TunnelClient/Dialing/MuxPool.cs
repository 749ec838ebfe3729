using Microsoft.Extensions.Logging;
using Tunnel.Client.Options;
using Tunnel.Metrics;
using Tunnel.Mux;
using Tunnel.Net;

namespace Tunnel.Client.Dialing;

/// <summary>Multiplexed TLS connections to the servers (opt-in): each new tunneled connection becomes a stream on the
/// least busy one, with no TCP or TLS handshake of its own. <see cref="MultiplexOptions.Connections"/> of them are
/// kept open through the balancer (strategy, retries, circuit breakers apply to them as to plain connections); one
/// that fills up to <see cref="MultiplexOptions.MaxStreams"/> gets company, one the server drains (GOAWAY) or loses
/// is replaced, and its streams finish (or fail, if the connection failed) where they are.</summary>
/// <remarks>A server that does not answer the multiplexing preamble (stunnel, or a tunnel-server too old) turns
/// multiplexing off for the tunnel: it says so once, at error level, and the tunnel carries each connection over its
/// own TLS connection from then on, as without the option.</remarks>
internal sealed partial class MuxPool : IAsyncDisposable
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ExtraIdle = TimeSpan.FromSeconds(30);

    private readonly string _tunnel;
    private readonly Func<CancellationToken, Task<ServerConnection>> _establish;
    private readonly MultiplexOptions _options;
    private readonly TimeSpan _answerTimeout;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly List<Session> _sessions = [];
    private readonly SemaphoreSlim _refill = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _filler;
    private Task<Session?>? _opening;
    private string? _unsupported;
    private bool _draining;

    public MuxPool(string tunnel, Func<CancellationToken, Task<ServerConnection>> establish, MultiplexOptions options, TimeSpan answerTimeout,
        TunnelMetrics metrics, ILogger logger, TimeProvider time)
    {
        _tunnel = tunnel;
        _establish = establish;
        _options = options;
        _answerTimeout = answerTimeout;
        _logger = logger;
        _time = time;
        var connections = metrics.MuxConnections().WithLabels(tunnel);
        var streams = metrics.MuxStreams().WithLabels(tunnel);
        metrics.Registry.OnCollect(() =>
        {
            var (count, open) = Counts();
            connections.Set(count);
            streams.Set(open);
        });
        _filler = Task.Run(FillAsync);
    }

    /// <summary>Set once a server refused multiplexing: the tunnel connects plainly from then on.</summary>
    public bool Disabled => Volatile.Read(ref _unsupported) is not null;

    /// <summary>A new stream on a multiplexed connection, or null when multiplexing is off for the tunnel (the caller
    /// connects the plain way). Throws <see cref="TunnelConnectException"/> when no server can be reached.</summary>
    public async Task<ServerConnection?> OpenAsync(CancellationToken cancellationToken)
    {
        while (!Disabled)
        {
            var session = Pick() ?? await OpeningAsync().WaitAsync(cancellationToken);
            if (session is null)
            {
                continue; // refused multiplexing (Disabled now), or was gone at once
            }

            try
            {
                var stream = session.Mux.Open();
                return session.Connection with { Relay = stream, Lease = null, Pooled = true };
            }
            catch (IOException)
            {
                // Closed between the pick and the open: take another.
            }
        }

        return null;
    }

    /// <summary>The open connection with the fewest streams that takes more.</summary>
    private Session? Pick()
    {
        lock (_lock)
        {
            Session? best = null;
            var bestCount = int.MaxValue;
            foreach (var session in _sessions)
            {
                var count = session.Mux.StreamCount;
                if (count < bestCount && session.Mux.CanOpen)
                {
                    best = session;
                    bestCount = count;
                }
            }

            return best;
        }
    }

    /// <summary>The connection being established, shared by everyone waiting for one (and the background filler).</summary>
    private Task<Session?> OpeningAsync()
    {
        lock (_lock)
        {
            if (_opening is null || _opening.IsCompleted)
            {
                _opening = EstablishAsync(_stop.Token);
            }

            return _opening;
        }
    }

    private async Task<Session?> EstablishAsync(CancellationToken cancellationToken)
    {
        var connection = await _establish(cancellationToken);
        MuxSession mux;
        try
        {
            using var scope = new TimeoutScope(_answerTimeout, _time, cancellationToken);
            mux = await MuxSession.ConnectAsync(connection.Endpoint, _options.MaxStreams, _time, scope.Token);
        }
        catch (Exception ex)
        {
            connection.Dispose();
            await connection.Endpoint.DisposeAsync();
            if (ex is MuxNotSupportedException)
            {
                if (Interlocked.CompareExchange(ref _unsupported, ex.Message, null) is null)
                {
                    LogUnsupported(_logger, _tunnel, connection.Server.ToString(), ex.Message);
                }

                return null;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw new TunnelConnectException(Http.ProxyErrorResponse.ServiceUnavailable, connection.Server.ToString(),
                $"tunnel-server {connection.Server} did not take up multiplexing: {SocketErrors.Describe(ex)}", ex);
        }

        var session = new Session(mux, connection);
        lock (_lock)
        {
            _sessions.Add(session);
        }

        LogOpened(_logger, _tunnel, connection.Server.ToString());
        _ = RetireAsync(session);
        return session;
    }

    /// <summary>Watches one connection: once the server drains or loses it, no new stream goes there, a replacement is
    /// opened, and it closes when its last stream has ended.</summary>
    private async Task RetireAsync(Session session)
    {
        await Task.WhenAny(session.Mux.Closed, session.Mux.GoAwayReceived);
        Wake();
        await session.Mux.WhenEmptyAsync();
        await CloseAsync(session);
    }

    private async Task CloseAsync(Session session)
    {
        lock (_lock)
        {
            if (!_sessions.Remove(session))
            {
                return;
            }
        }

        if (session.Mux.Error is { } error)
        {
            LogLost(_logger, _tunnel, session.Connection.Server.ToString(), SocketErrors.Describe(error));
        }

        await session.Mux.DisposeAsync();
        session.Connection.Dispose();
        Wake();
    }

    private (int Connections, int Streams) Counts()
    {
        lock (_lock)
        {
            return (_sessions.Count, _sessions.Sum(s => s.Mux.StreamCount));
        }
    }

    private int Usable()
    {
        lock (_lock)
        {
            return _sessions.Count(s => !s.Mux.Closed.IsCompleted && !s.Mux.GoAwayReceived.IsCompleted);
        }
    }

    /// <summary>Keeps the configured number of connections open, and closes extra ones that have been idle.</summary>
    private async Task FillAsync()
    {
        var backoff = TimeSpan.Zero;
        while (!_stop.IsCancellationRequested && !Disabled)
        {
            try
            {
                while (!Volatile.Read(ref _draining) && !Disabled && Usable() < _options.Connections)
                {
                    await OpeningAsync();
                    backoff = TimeSpan.Zero;
                }

                await _refill.WaitAsync(ExtraIdle, _stop.Token);
                await CloseIdleExtrasAsync();
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                LogRefillFailed(_logger, _tunnel, SocketErrors.Describe(ex), backoff.TotalSeconds);
                try
                {
                    await Task.Delay(backoff, _time, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task CloseIdleExtrasAsync()
    {
        List<Session> extras;
        lock (_lock)
        {
            var draining = Volatile.Read(ref _draining);
            var excess = _sessions.Count - (draining ? 0 : _options.Connections);
            extras = _sessions.Where(s => s.Mux.IdleFor >= ExtraIdle || (draining && s.Mux.StreamCount == 0))
                .Take(Math.Max(0, excess)).ToList();
        }

        foreach (var session in extras)
        {
            await CloseAsync(session);
        }
    }

    private void Wake()
    {
        try
        {
            _refill.Release();
        }
        catch (ObjectDisposedException)
        {
            // Shutting down.
        }
    }

    /// <summary>The tunnel is draining: no new connections; each one closes (in the background) once its streams
    /// have ended.</summary>
    public void BeginDrain()
    {
        Volatile.Write(ref _draining, true);
        List<Session> sessions;
        lock (_lock)
        {
            sessions = [.. _sessions];
        }

        foreach (var session in sessions)
        {
            _ = CloseWhenEmptyAsync(session);
        }

        async Task CloseWhenEmptyAsync(Session session)
        {
            await session.Mux.WhenEmptyAsync();
            await CloseAsync(session);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _draining, true);
        await _stop.CancelAsync();
        try
        {
            await _filler;
        }
        catch (OperationCanceledException)
        {
        }

        List<Session> sessions;
        lock (_lock)
        {
            sessions = [.. _sessions];
        }

        // All at once: each waits a moment for its server's close, and a stopping process should wait that once.
        await Task.WhenAll(sessions.Select(CloseAsync));

        _refill.Dispose();
        _stop.Dispose();
    }

    private sealed record Session(MuxSession Mux, ServerConnection Connection);

    [LoggerMessage(EventId = 420, EventName = "MuxUnsupported", Level = LogLevel.Error,
        Message = "tunnel {Tunnel}: multiplexing is on, but tunnel-server {Server} does not speak it ({Reason}); carrying each connection over its own TLS connection from now on. Turn multiplex off for this tunnel, or upgrade the server")]
    private static partial void LogUnsupported(ILogger logger, string tunnel, string server, string reason);

    [LoggerMessage(EventId = 421, EventName = "MuxOpened", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel}: multiplexed connection to {Server} open")]
    private static partial void LogOpened(ILogger logger, string tunnel, string server);

    [LoggerMessage(EventId = 422, EventName = "MuxLost", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel}: multiplexed connection to {Server} failed ({Error}); its streams were reset, a new one is opened")]
    private static partial void LogLost(ILogger logger, string tunnel, string server, string error);

    [LoggerMessage(EventId = 423, EventName = "MuxRefillFailed", Level = LogLevel.Debug,
        Message = "tunnel {Tunnel}: could not open a multiplexed connection ({Error}); retrying in {Seconds}s")]
    private static partial void LogRefillFailed(ILogger logger, string tunnel, string error, double seconds);
}
