namespace Tunnel.Relay;

/// <summary>Timing of a relayed connection. <see cref="Timeout.InfiniteTimeSpan"/> disables a limit.</summary>
/// <param name="IdleTimeout">Close (RST) after no byte moved in either direction for this long.</param>
/// <param name="CloseTimeout">After one side half-closed, how long the other direction may keep flowing.</param>
/// <param name="MaxLifetime">Close (RST) a connection this long after it was established, busy or not.</param>
internal sealed record RelayOptions(TimeSpan IdleTimeout, TimeSpan CloseTimeout, TimeSpan MaxLifetime)
{
    public int BufferSize { get; init; } = StreamPump.DefaultBufferSize;

    /// <summary>During a drain, a connection idle this long is closed gracefully (FIN / close_notify to both sides),
    /// as a web server closes idle keep-alive connections on shutdown: the drain then waits only for real
    /// transfers. Half-closed connections are exempt: the side still open owes the rest of its stream.</summary>
    public TimeSpan DrainIdle { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Told the size of every write toward the dialled side as it happens (a tunnel-wide byte counter, so a
    /// scrape sees long transfers progress). The relay knows nothing of what counts.</summary>
    public Action<long>? CountUp { get; init; }

    /// <summary>Told the size of every write toward the accepted side.</summary>
    public Action<long>? CountDown { get; init; }
}
