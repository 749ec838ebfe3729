using System.Text;
using Tunnel.Common;
using Tunnel.Relay;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Relay;

/// <summary>The relay's semantics with in-memory endpoints and a manual clock: half-close, resets, every timeout.</summary>
public sealed class DuplexRelayTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly PipeEndpoint _client = new();
    private readonly PipeEndpoint _upstream = new();
    private readonly TimerCountingTimeProvider _time = new();

    private Task<RelayResult> Run(TimeSpan? idle = null, TimeSpan? close = null, TimeSpan? lifetime = null,
        CancellationToken abort = default, CancellationToken drain = default) =>
        DuplexRelay.RunAsync(_client, _upstream,
            new RelayOptions(idle ?? Timeout.InfiniteTimeSpan, close ?? Timeout.InfiniteTimeSpan, lifetime ?? Timeout.InfiniteTimeSpan),
            _time, drain, abort);

    [Fact(Timeout = 10_000)]
    public async Task Client_end_of_stream_half_closes_the_upstream_and_the_answer_still_flows_back()
    {
        var relay = Run();
        await _client.Peer.WriteAsync("request"u8.ToArray());
        _client.PeerCompletes();

        Assert.Equal("request", await ReadToEndAsync(_upstream.Peer));
        Assert.True(_upstream.WritesCompleted);
        Assert.False(relay.IsCompleted);

        await _upstream.Peer.WriteAsync("late answer"u8.ToArray());
        _upstream.PeerCompletes();

        Assert.Equal("late answer", await ReadToEndAsync(_client.Peer));
        var result = await relay.WaitAsync(Wait);
        Assert.Equal(CloseOutcome.Done, result.Reason);
        Assert.Equal(7, result.BytesUp);
        Assert.Equal(11, result.BytesDown);
        Assert.False(_client.Aborted || _upstream.Aborted);
    }

    [Fact(Timeout = 10_000)]
    public async Task An_upstream_reset_aborts_both_sides_and_is_attributed_to_the_upstream()
    {
        var relay = Run();
        _upstream.PeerResets();

        var result = await relay.WaitAsync(Wait);
        Assert.Equal(CloseOutcome.UpstreamError, result.Reason);
        Assert.True(_client.Aborted);
        Assert.True(_upstream.Aborted);
        Assert.IsType<IOException>(result.Error);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_client_reset_is_attributed_to_the_client()
    {
        var relay = Run();
        _client.PeerResets();

        var result = await relay.WaitAsync(Wait);
        Assert.Equal(CloseOutcome.ClientError, result.Reason);
        Assert.True(_upstream.Aborted);
    }

    [Fact(Timeout = 10_000)]
    public async Task The_idle_timeout_fires_only_after_no_byte_moved_for_its_whole_length()
    {
        var relay = Run(idle: TimeSpan.FromMinutes(1));

        _time.Advance(TimeSpan.FromSeconds(50));
        await _client.Peer.WriteAsync("x"u8.ToArray());
        await ReadExactlyAsync(_upstream.Peer, 1);
        _time.Advance(TimeSpan.FromSeconds(50)); // 100 s since start, 50 s since the last byte
        Assert.False(relay.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(11));
        var result = await relay.WaitAsync(Wait);
        Assert.Equal(CloseOutcome.IdleTimeout, result.Reason);
        Assert.True(_client.Aborted && _upstream.Aborted);
    }

    [Fact(Timeout = 10_000)]
    public async Task The_maximum_lifetime_cuts_even_a_busy_connection()
    {
        var relay = Run(idle: TimeSpan.FromMinutes(1), lifetime: TimeSpan.FromMinutes(10));
        for (var i = 0; i < 10; i++)
        {
            // A byte every 55 s keeps the one-minute idle timer quiet.
            await _client.Peer.WriteAsync("x"u8.ToArray());
            await ReadExactlyAsync(_upstream.Peer, 1);
            _time.Advance(TimeSpan.FromSeconds(55));
        }

        Assert.False(relay.IsCompleted);
        await _client.Peer.WriteAsync("x"u8.ToArray());
        await ReadExactlyAsync(_upstream.Peer, 1);
        _time.Advance(TimeSpan.FromSeconds(55)); // 605 s: past the lifetime, 55 s after the last byte

        var result = await relay.WaitAsync(Wait);
        Assert.Equal(CloseOutcome.MaxLifetime, result.Reason);
    }

    [Fact(Timeout = 10_000)]
    public async Task After_a_half_close_the_other_direction_gets_the_close_timeout_then_is_reset()
    {
        var relay = Run(close: TimeSpan.FromSeconds(30));
        _client.PeerCompletes();
        await ReadToEndAsync(_upstream.Peer);

        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(relay.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(2));

        var result = await relay.WaitAsync(Wait);
        Assert.Equal(CloseOutcome.CloseTimeout, result.Reason);
        Assert.True(_client.Aborted && _upstream.Aborted);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_forced_shutdown_resets_the_connection_with_reason_shutdown()
    {
        using var abort = new CancellationTokenSource();
        var relay = Run(abort: abort.Token);

        abort.Cancel();

        var result = await relay.WaitAsync(Wait);
        Assert.Equal(CloseOutcome.Shutdown, result.Reason);
        Assert.True(_client.Aborted && _upstream.Aborted);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_drain_closes_an_idle_connection_gracefully_on_both_sides()
    {
        using var drain = new CancellationTokenSource();
        var relay = Run(close: TimeSpan.FromSeconds(30), drain: drain.Token);
        await _client.Peer.WriteAsync("x"u8.ToArray());
        await ReadExactlyAsync(_upstream.Peer, 1);

        drain.Cancel();                          // active 0 s ago: not yet
        Assert.False(_client.WritesCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));  // now idle for the drain threshold
        Assert.True(_client.WritesCompleted && _upstream.WritesCompleted);

        _client.PeerCompletes();                 // both peers answer the FIN with their own
        _upstream.PeerCompletes();
        var result = await relay.WaitAsync(Wait);
        Assert.Equal(CloseOutcome.Drained, result.Reason);
        Assert.False(_client.Aborted || _upstream.Aborted);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_drain_does_not_end_a_half_closed_connection_whose_answer_is_slow()
    {
        // The client sent its request and half-closed; the answer has not started after the drain threshold. Closing
        // "idle" connections must not send the client an end of stream the upstream never sent (a truncated answer
        // presented as complete, as a SIGTERM under load showed end to end).
        using var drain = new CancellationTokenSource();
        var relay = Run(close: TimeSpan.FromSeconds(30), drain: drain.Token);
        await _client.Peer.WriteAsync("request"u8.ToArray());
        _client.PeerCompletes();
        Assert.Equal("request", await ReadToEndAsync(_upstream.Peer));

        drain.Cancel();
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(_client.WritesCompleted);
        Assert.False(relay.IsCompleted);

        await _upstream.Peer.WriteAsync("slow answer"u8.ToArray());
        _upstream.PeerCompletes();
        Assert.Equal("slow answer", await ReadToEndAsync(_client.Peer));
        var result = await relay.WaitAsync(Wait);
        Assert.Equal(CloseOutcome.Done, result.Reason);
        Assert.False(_client.Aborted || _upstream.Aborted);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_drain_lets_a_busy_transfer_finish()
    {
        using var drain = new CancellationTokenSource();
        var relay = Run(drain: drain.Token);
        drain.Cancel();
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(500));
            await _client.Peer.WriteAsync("x"u8.ToArray());
            await ReadExactlyAsync(_upstream.Peer, 1);
            Assert.False(_client.WritesCompleted);
        }

        _client.PeerCompletes();
        _upstream.PeerCompletes();
        Assert.Equal(CloseOutcome.Done, (await relay.WaitAsync(Wait)).Reason);
    }

    [Fact(Timeout = 10_000)]
    public async Task Timers_are_released_when_the_relay_ends()
    {
        var relay = Run(idle: TimeSpan.FromMinutes(1), close: TimeSpan.FromSeconds(30), lifetime: TimeSpan.FromHours(1));
        _client.PeerCompletes();
        _upstream.PeerCompletes();

        Assert.Equal(CloseOutcome.Done, (await relay.WaitAsync(Wait)).Reason);
        Assert.Equal(0, _time.LiveTimers);
    }

    private static async Task<string> ReadToEndAsync(Stream stream)
    {
        var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer).WaitAsync(Wait);
        return Encoding.ASCII.GetString(buffer.ToArray());
    }

    private static Task ReadExactlyAsync(Stream stream, int count) => stream.ReadExactlyAsync(new byte[count]).AsTask().WaitAsync(Wait);
}
