using Tunnel.Common;
namespace Tunnel.Relay;

/// <summary>Relays bytes both ways between an accepted and a dialled endpoint until both directions end.</summary>
/// <remarks>
/// End of stream on one side becomes a half-close of the other (FIN, or close_notify on TLS) and the reverse
/// direction keeps flowing until it ends too or the close timeout fires. An error on either side resets both, so a
/// truncated stream is never presented as a complete one. Both directions are awaited before this returns; the
/// caller disposes the endpoints.
/// </remarks>
internal sealed class DuplexRelay : IDisposable
{
    private readonly RelayOptions _options;
    private readonly ActivityClock _activity;
    private readonly CancellationTokenSource _cts;
    private readonly CancellationToken _shutdown;
    private ITimer? _idleTimer;
    private ITimer? _lifetimeTimer;
    private ITimer? _closeTimer;
    private ITimer? _drainTimer;
    private CancellationTokenRegistration _drainRegistration;
    private IRelayEndpoint? _client;
    private IRelayEndpoint? _upstream;
    private int _timeoutReason = -1;
    private int _drainClosing;
    private int _halfClosed;

    private DuplexRelay(RelayOptions options, TimeProvider time, CancellationToken shutdown)
    {
        _options = options;
        _activity = new ActivityClock(time);
        _shutdown = shutdown;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
    }

    /// <summary>Runs the relay. When <paramref name="drain"/> fires, the connection is closed gracefully as soon as
    /// it has been idle for <see cref="RelayOptions.DrainIdle"/>; <paramref name="abort"/> resets it at once (a
    /// forced shutdown).</summary>
    public static async Task<RelayResult> RunAsync(
        IRelayEndpoint client,
        IRelayEndpoint upstream,
        RelayOptions options,
        TimeProvider time,
        CancellationToken drain,
        CancellationToken abort)
    {
        using var relay = new DuplexRelay(options, time, abort);
        return await relay.RunAsync(client, upstream, drain);
    }

    private async Task<RelayResult> RunAsync(IRelayEndpoint client, IRelayEndpoint upstream, CancellationToken drain)
    {
        _client = client;
        _upstream = upstream;
        StartTimers();
        _drainRegistration = drain.Register(static s => ((DuplexRelay)s!).OnDrain(), this);
        var token = _cts.Token;
        var up = StreamPump.CopyAsync(client.Stream, upstream.Stream, _activity, token, _options.BufferSize, _options.CountUp);
        var down = StreamPump.CopyAsync(upstream.Stream, client.Stream, _activity, token, _options.BufferSize, _options.CountDown);

        var firstTask = await Task.WhenAny(up, down);
        var upFirst = firstTask == up;
        var first = await firstTask;
        var secondTask = upFirst ? down : up;

        if (first.Result == PumpResult.Success)
        {
            Volatile.Write(ref _halfClosed, 1);
            ArmCloseTimer();
            var halfClosed = upFirst ? upstream : client;
            var writeError = await TryCompleteWritesAsync(halfClosed, token);
            if (writeError is null)
            {
                var second = await secondTask;
                if (second.Result == PumpResult.Success)
                {
                    writeError = await TryCompleteWritesAsync(upFirst ? client : upstream, token);
                    if (writeError is null)
                    {
                        return Result(up, down, Volatile.Read(ref _drainClosing) == 1 ? CloseOutcome.Drained : CloseOutcome.Done);
                    }

                    Abort(client, upstream);
                    return Result(up, down, upFirst ? CloseOutcome.ClientError : CloseOutcome.UpstreamError, writeError);
                }

                Abort(client, upstream);
                return Result(up, down, Classify(second, upstreamToClient: upFirst), second.Error);
            }

            Abort(client, upstream);
            await secondTask;
            return Result(up, down, upFirst ? CloseOutcome.UpstreamError : CloseOutcome.ClientError, writeError);
        }

        Abort(client, upstream);
        await secondTask;
        return Result(up, down, Classify(first, upstreamToClient: !upFirst), first.Error);
    }

    private static async ValueTask<Exception?> TryCompleteWritesAsync(IRelayEndpoint endpoint, CancellationToken token)
    {
        try
        {
            await endpoint.CompleteWritesAsync(token);
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    private void Abort(IRelayEndpoint client, IRelayEndpoint upstream)
    {
        // Cancel first so the pumps report Canceled rather than the errors the resets are about to cause.
        _cts.Cancel();
        client.Abort();
        upstream.Abort();
    }

    private CloseOutcome Classify(PumpOutcome outcome, bool upstreamToClient)
    {
        if (outcome.Result == PumpResult.Canceled)
        {
            var timeout = Volatile.Read(ref _timeoutReason);
            if (timeout >= 0)
            {
                return (CloseOutcome)timeout;
            }

            return _shutdown.IsCancellationRequested ? CloseOutcome.Shutdown : CloseOutcome.ClientError;
        }

        var inputIsUpstream = upstreamToClient;
        return (outcome.Result == PumpResult.InputError) == inputIsUpstream
            ? CloseOutcome.UpstreamError
            : CloseOutcome.ClientError;
    }

    private static RelayResult Result(Task<PumpOutcome> up, Task<PumpOutcome> down, CloseOutcome reason, Exception? error = null) =>
        new(up.Result.Bytes, down.Result.Bytes, reason, error);

    private void StartTimers()
    {
        var time = _activity.Time;
        if (_options.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            _idleTimer = time.CreateTimer(static s => ((DuplexRelay)s!).OnIdleTimer(), this, _options.IdleTimeout, Timeout.InfiniteTimeSpan);
        }

        if (_options.MaxLifetime != Timeout.InfiniteTimeSpan)
        {
            _lifetimeTimer = time.CreateTimer(static s => ((DuplexRelay)s!).TimeOut(CloseOutcome.MaxLifetime), this, _options.MaxLifetime, Timeout.InfiniteTimeSpan);
        }
    }

    private void ArmCloseTimer()
    {
        if (_options.CloseTimeout != Timeout.InfiniteTimeSpan && _closeTimer is null)
        {
            _closeTimer = _activity.Time.CreateTimer(static s => ((DuplexRelay)s!).TimeOut(CloseOutcome.CloseTimeout), this, _options.CloseTimeout, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The process is draining: close now if idle, otherwise look again when it could first be idle. A
    /// half-closed connection is never closed this way: one side has said all it had to say and is waiting for the
    /// rest of the other direction (a request sent, its answer slow to come), so an end of stream now would present a
    /// truncated answer as a complete one. It finishes, or the close timeout (or the drain's deadline) resets it.</summary>
    private void OnDrain()
    {
        if (Volatile.Read(ref _halfClosed) == 1)
        {
            return;
        }

        var idleFor = _activity.IdleFor;
        if (idleFor >= _options.DrainIdle)
        {
            if (Interlocked.Exchange(ref _drainClosing, 1) == 0)
            {
                _ = CloseBothGracefullyAsync();
            }

            return;
        }

        var wait = _options.DrainIdle - idleFor;
        if (_drainTimer is null)
        {
            _drainTimer = _activity.Time.CreateTimer(static s => ((DuplexRelay)s!).OnDrain(), this, wait, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _drainTimer.Change(wait, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Sends end of stream to both peers, as an idle keep-alive connection is closed; each peer answers
    /// with its own, which ends the pumps normally. A peer that does not gets the close timeout.</summary>
    private async Task CloseBothGracefullyAsync()
    {
        // Peers answer a FIN on an idle connection at once; one that does not is reset soon, not after the full
        // close timeout, so that it cannot hold the drain.
        _closeTimer = _activity.Time.CreateTimer(static s => ((DuplexRelay)s!).TimeOut(CloseOutcome.Shutdown), this,
            Min(_options.CloseTimeout, DrainCloseGrace), Timeout.InfiniteTimeSpan);
        try
        {
            await _client!.CompleteWritesAsync(_cts.Token);
            await _upstream!.CompleteWritesAsync(_cts.Token);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or
            OperationCanceledException or NotSupportedException or InvalidOperationException)
        {
            // Data arrived at the same moment (a write is in progress) or a peer is gone: reset instead.
            TimeOut(CloseOutcome.Shutdown);
        }
    }

    private static readonly TimeSpan DrainCloseGrace = TimeSpan.FromSeconds(5);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a == Timeout.InfiniteTimeSpan || b < a ? b : a;

    private void OnIdleTimer()
    {
        var idleFor = _activity.IdleFor;
        if (idleFor >= _options.IdleTimeout)
        {
            TimeOut(CloseOutcome.IdleTimeout);
        }
        else
        {
            _idleTimer?.Change(_options.IdleTimeout - idleFor, Timeout.InfiniteTimeSpan);
        }
    }

    private void TimeOut(CloseOutcome reason)
    {
        if (Interlocked.CompareExchange(ref _timeoutReason, (int)reason, -1) == -1)
        {
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The relay finished while the timer fired.
            }
        }
    }

    public void Dispose()
    {
        _drainRegistration.Dispose();
        _drainTimer?.Dispose();
        _idleTimer?.Dispose();
        _lifetimeTimer?.Dispose();
        _closeTimer?.Dispose();
        _cts.Dispose();
    }
}
