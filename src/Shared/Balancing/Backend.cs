using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Tunnel.Net;

namespace Tunnel.Balancing;

/// <summary>One backend (a tunnel-server, or an upstream proxy) and what is known of its health: a Polly circuit
/// breaker fed by real connection attempts (passive health), a manual isolation switch driven by probes (active
/// health), and the count of connections this process has open to it.</summary>
internal sealed partial class Backend
{
    private readonly CircuitBreakerStateProvider _state = new();
    private readonly CircuitBreakerManualControl _manual = new();
    private readonly TimeProvider _time;
    private int _active;
    private long _lastSuccess;
    private long _lastFailure;
    private volatile string? _lastError;
    private volatile bool _probeDown;
    private long _breakEndsUtcTicks;

    private readonly ILogger _logger;
    private readonly string _tunnel;

    public Backend(string tunnel, HostPort address, TimeSpan breakDuration, ILogger logger, TimeProvider time)
    {
        _tunnel = tunnel;
        Address = address;
        _logger = logger;
        _time = time;
        Breaker = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                // Break after half the attempts of the last 10 s failed, once there were at least three (so that one
                // connection's own retries against a single backend do not trip it before the last attempt).
                FailureRatio = 0.5,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(10),
                BreakDuration = breakDuration,
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException),
                StateProvider = _state,
                ManualControl = _manual,
                OnOpened = args =>
                {
                    if (!args.IsManual)
                    {
                        Volatile.Write(ref _breakEndsUtcTicks, (_time.GetUtcNow() + args.BreakDuration).UtcTicks);
                        LogBroken(_logger, _tunnel, Address.ToString(), args.BreakDuration.TotalSeconds, _lastError ?? "failures");
                    }

                    return ValueTask.CompletedTask;
                },
                OnClosed = args =>
                {
                    if (!args.IsManual)
                    {
                        LogRecovered(_logger, _tunnel, Address.ToString());
                    }

                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public HostPort Address { get; }

    /// <summary>Wraps every attempt on this backend, counting its outcome.</summary>
    public ResiliencePipeline Breaker { get; }

    /// <summary>Usable now: probes do not say it is down, and its circuit is closed, half-open (one trial allowed) or
    /// open with its break over. Polly moves an open circuit to half-open only when an attempt goes through it, so a
    /// backend whose break is over must be offered again, or nothing would ever try it and it would stay skipped.</summary>
    public bool IsAvailable => !_probeDown && _state.CircuitState switch
    {
        CircuitState.Closed or CircuitState.HalfOpen => true,
        CircuitState.Open => _time.GetUtcNow().UtcTicks >= Volatile.Read(ref _breakEndsUtcTicks),
        _ => false,
    };

    public CircuitState Circuit => _state.CircuitState;

    public bool ProbeDown => _probeDown;

    public int ActiveConnections => Volatile.Read(ref _active);

    public string? LastError => _lastError;

    /// <summary>Time since the last successful connection or probe; null if there never was one.</summary>
    public TimeSpan? SinceLastSuccess => Volatile.Read(ref _lastSuccess) is var t and not 0 ? _time.GetElapsedTime(t) : null;

    public TimeSpan? SinceLastFailure => Volatile.Read(ref _lastFailure) is var t and not 0 ? _time.GetElapsedTime(t) : null;

    public void RecordSuccess() => Volatile.Write(ref _lastSuccess, _time.GetTimestamp());

    /// <summary>The exception of the last failed connection attempt (not of probes).</summary>
    public Exception? LastException { get; private set; }

    public void RecordFailure(Exception error)
    {
        LastException = error;
        RecordFailure(SocketErrors.Describe(error));
    }

    public void RecordFailure(string error)
    {
        _lastError = error;
        Volatile.Write(ref _lastFailure, _time.GetTimestamp());
    }

    /// <summary>Counts a connection as open on this backend until the returned lease is disposed.</summary>
    public IDisposable Lease()
    {
        Interlocked.Increment(ref _active);
        return new Release(this);
    }

    /// <summary>Active health: a failed probe isolates the backend until a probe succeeds.</summary>
    public async Task SetProbeResultAsync(bool up, string? error)
    {
        if (up)
        {
            RecordSuccess();
            if (_probeDown)
            {
                _probeDown = false;
                await _manual.CloseAsync();
                LogProbeUp(_logger, _tunnel, Address.ToString());
            }
        }
        else
        {
            RecordFailure(error ?? "probe failed");
            if (!_probeDown)
            {
                _probeDown = true;
                await _manual.IsolateAsync();
                LogProbeDown(_logger, _tunnel, Address.ToString(), error ?? "probe failed");
            }
        }
    }

    [LoggerMessage(EventId = 500, EventName = "BackendBroken", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel}: {Backend} skipped for {Seconds}s after repeated failures (last: {Error})")]
    private static partial void LogBroken(ILogger logger, string tunnel, string backend, double seconds, string error);

    [LoggerMessage(EventId = 501, EventName = "BackendRecovered", Level = LogLevel.Information, Message = "tunnel {Tunnel}: {Backend} is answering again")]
    private static partial void LogRecovered(ILogger logger, string tunnel, string backend);

    [LoggerMessage(EventId = 502, EventName = "BackendProbeDown", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel}: health check marks {Backend} down: {Error}")]
    private static partial void LogProbeDown(ILogger logger, string tunnel, string backend, string error);

    [LoggerMessage(EventId = 503, EventName = "BackendProbeUp", Level = LogLevel.Information, Message = "tunnel {Tunnel}: health check marks {Backend} up again")]
    private static partial void LogProbeUp(ILogger logger, string tunnel, string backend);

    private sealed class Release(Backend backend) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                Interlocked.Decrement(ref backend._active);
            }
        }
    }
}
