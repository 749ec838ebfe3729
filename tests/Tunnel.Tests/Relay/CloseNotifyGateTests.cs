using System.Net.Security;
using Tunnel.Relay;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Relay;

/// <summary>A half-close (close_notify) made while the other direction decrypts: the gate that keeps OpenSSL's
/// shutdown and read apart, first with streams the test controls, then with real TLS connections under load.</summary>
public sealed class CloseNotifyGateTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly TestPki _pki = new();

    [Fact(Timeout = 10_000)]
    public async Task A_close_notify_waits_while_a_received_record_is_being_decrypted()
    {
        var gate = new CloseNotifyGate();
        var decrypting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tls = new DecryptingStream(gate.Transport(new MemoryStream([1, 2, 3])), decrypting.Task);
        var reads = gate.Reads(tls);

        var read = reads.ReadAsync(new byte[16]).AsTask();
        await tls.TransportReturned.WaitAsync(Wait);
        var shutdownCalled = false;
        var shutdown = gate.ShutdownAsync(() =>
        {
            shutdownCalled = true;
            return Task.CompletedTask;
        }, CancellationToken.None);

        Assert.False(shutdownCalled);
        Assert.False(shutdown.IsCompleted);

        decrypting.SetResult();
        Assert.Equal(3, await read.WaitAsync(Wait));
        await shutdown.WaitAsync(Wait);
        Assert.True(shutdownCalled);
    }

    [Fact(Timeout = 10_000)]
    public async Task Received_bytes_wait_while_the_close_notify_is_being_made()
    {
        var gate = new CloseNotifyGate();
        var transport = new MemoryStream([1, 2, 3, 4]);
        var tls = new DecryptingStream(gate.Transport(transport), Task.CompletedTask, chunk: 2);
        var reads = gate.Reads(tls);
        Assert.Equal(2, await reads.ReadAsync(new byte[16]).AsTask().WaitAsync(Wait));

        Task<int>? readDuringShutdown = null;
        await gate.ShutdownAsync(() =>
        {
            readDuringShutdown = reads.ReadAsync(new byte[16]).AsTask();
            Assert.False(readDuringShutdown.IsCompleted); // its bytes are held back until the shutdown call returns
            return Task.CompletedTask;
        }, CancellationToken.None).WaitAsync(Wait);

        Assert.Equal(2, await readDuringShutdown!.WaitAsync(Wait));
    }

    /// <summary>The gate covers the <see cref="SslStream.ShutdownAsync"/> call, not the wait for its write, because
    /// OpenSSL makes the alert before the call returns. This pins that behaviour of the runtime in use.</summary>
    [Fact(Timeout = 20_000)]
    public async Task SslStream_makes_its_close_notify_before_ShutdownAsync_returns()
    {
        await using var pair = await ConnectedPairAsync();
        var (server, client) = pair;
        var writes = client.Transport.Writes;
        var shutdown = client.Endpoint.Tls.ShutdownAsync();
        Assert.Equal(writes + 1, client.Transport.Writes);
        await shutdown.WaitAsync(Wait);
        Assert.Equal(0, await server.Endpoint.Stream.ReadAsync(new byte[16]).AsTask().WaitAsync(Wait));
    }

    [Fact(Timeout = 10_000)]
    public async Task A_close_notify_right_after_the_handshake_does_not_wait_for_a_read()
    {
        await using var pair = await ConnectedPairAsync();
        var (server, client) = pair;
        await client.Endpoint.CompleteWritesAsync(CancellationToken.None).AsTask().WaitAsync(Wait);
        Assert.Equal(0, await server.Endpoint.Stream.ReadAsync(new byte[16]).AsTask().WaitAsync(Wait));
    }

    /// <summary>Each side floods the other and half-closes while the other's flood is still being decrypted, on
    /// many connections at once (so threads are preempted mid-decrypt): every byte arrives, both ways, and every
    /// connection ends cleanly. Without the gate, about one connection in 9,000 hung here (a record swallowed by the
    /// shutdown) or failed with "bad record mac"; this run of 1,500 catches that only sometimes, the two tests
    /// above catch it every time.</summary>
    [Fact(Timeout = 120_000)]
    public async Task Half_closes_during_the_other_directions_flood_lose_nothing()
    {
        const int Connections = 1500, AtOnce = 16;
        var next = -1;
        var workers = Enumerable.Range(0, AtOnce).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < Connections; i = Interlocked.Increment(ref next))
            {
                await OneConnectionAsync(i);
            }
        }));
        await Task.WhenAll(workers);
    }

    private async Task OneConnectionAsync(int i)
    {
        await using var pair = await ConnectedPairAsync();
        var (server, client) = pair;
        long up = 1 << 20;
        long down = Random.Shared.Next(0, 64 * 1024);
        var clientSends = SendThenHalfCloseAsync(client.Endpoint, up, seed: i);
        var serverSends = SendThenHalfCloseAsync(server.Endpoint, down, seed: -i);
        var serverReceives = Payload.ReceiveAsync(server.Endpoint.Stream);
        var clientReceives = Payload.ReceiveAsync(client.Endpoint.Stream);
        await Task.WhenAll(clientSends, serverSends, serverReceives, clientReceives).WaitAsync(Wait);

        Assert.Equal((await clientSends, up), await serverReceives);
        Assert.Equal((await serverSends, down), await clientReceives);
    }

    private static Task<string> SendThenHalfCloseAsync(TlsEndpoint endpoint, long length, int seed) =>
        Task.Run(async () =>
        {
            var sha = await Payload.SendAsync(endpoint.Stream, length, seed);
            await endpoint.CompleteWritesAsync(CancellationToken.None);
            return sha;
        });

    private Task<TlsEndpointPair> ConnectedPairAsync() => TlsEndpointPair.ConnectAsync(_pki, Wait);

    public void Dispose() => _pki.Dispose();

    /// <summary>Stands in for SslStream: reads its transport, then "decrypts" until <paramref name="decrypted"/>
    /// completes before returning what it read.</summary>
    private sealed class DecryptingStream(Stream transport, Task decrypted, int chunk = 16) : Tunnel.Net.ReadWrappingStream(transport)
    {
        private readonly TaskCompletionSource _transportReturned = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task TransportReturned => _transportReturned.Task;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await Inner.ReadAsync(buffer[..Math.Min(chunk, buffer.Length)], cancellationToken);
            _transportReturned.TrySetResult();
            await decrypted;
            return read;
        }
    }
}
