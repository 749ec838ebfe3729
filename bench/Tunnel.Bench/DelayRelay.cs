using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Tunnel.Bench;

/// <summary>
/// A user-space stand-in for netem (this kernel has none): a TCP relay that delivers every chunk, and the FIN after
/// the last one, a fixed one-way delay after it arrived, in each direction, preserving order.
/// </summary>
/// <remarks>
/// The relay's own TCP handshake with the client completes at once, which would make a new connection one round
/// trip cheaper than on a real path. With connect emulation on, the target is dialled, and the client's first bytes
/// are delivered, no earlier than three one-way delays after accept: SYN (d) + SYN-ACK (d) + the first data (d).
/// </remarks>
internal static class DelayRelay
{
    private readonly record struct Chunk(long DueTicks, byte[]? Data, int Length);

    public static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var listen = args.Loopback("listen");
        var target = args.Loopback("target");
        var delay = TimeSpan.FromMilliseconds(args.Double("delay-ms", 25));
        var emulateConnect = args.Bool("emulate-connect", true);
        var maxSeconds = args.Double("max-seconds", 3600);
        args.ThrowIfUnused();

        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lifetime.CancelAfter(TimeSpan.FromSeconds(maxSeconds));
        using var listener = EchoServer.Listen(listen);
        Console.WriteLine($"delay: {listener.LocalEndPoint} -> {target}, {delay.TotalMilliseconds} ms each way");
        try
        {
            while (true)
            {
                var client = await listener.AcceptAsync(lifetime.Token);
                _ = RelayAsync(client, target, delay, emulateConnect, lifetime.Token);
            }
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
    }

    private static async Task RelayAsync(Socket client, IPEndPoint target, TimeSpan delay, bool emulateConnect, CancellationToken cancellationToken)
    {
        var accepted = Stopwatch.GetTimestamp();
        var delayTicks = (long)(delay.TotalSeconds * Stopwatch.Frequency);
        var earliestUp = emulateConnect ? accepted + (3 * delayTicks) : 0;
        using var server = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        client.NoDelay = true;
        try
        {
            var upQueue = Channel.CreateUnbounded<Chunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var downQueue = Channel.CreateUnbounded<Chunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

            // Read from the client at once (queued with their due time) while the dial waits its turn.
            var upReader = ReadAsync(client, upQueue.Writer, delayTicks, earliestUp, failed);
            if (emulateConnect)
            {
                await WaitUntilAsync(accepted + (2 * delayTicks), failed.Token);
            }

            await server.ConnectAsync(target, failed.Token);
            var upWriter = WriteAsync(server, upQueue.Reader, failed);
            var downReader = ReadAsync(server, downQueue.Writer, delayTicks, 0, failed);
            var downWriter = WriteAsync(client, downQueue.Reader, failed);
            await Task.WhenAll(upReader, upWriter, downReader, downWriter);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection ends with a reset of both sides below.
        }
        finally
        {
            if (failed.IsCancellationRequested)
            {
                client.LingerState = new LingerOption(true, 0);
                server.LingerState = new LingerOption(true, 0);
            }

            client.Dispose();
        }
    }

    private static async Task ReadAsync(Socket socket, ChannelWriter<Chunk> queue, long delayTicks, long earliest, CancellationTokenSource failed)
    {
        try
        {
            while (true)
            {
                var buffer = new byte[64 * 1024];
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, failed.Token);
                var due = Math.Max(Stopwatch.GetTimestamp() + delayTicks, earliest);
                queue.TryWrite(new Chunk(due, read == 0 ? null : buffer, read));
                if (read == 0)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            await failed.CancelAsync();
        }
        finally
        {
            queue.TryComplete();
        }
    }

    private static async Task WriteAsync(Socket socket, ChannelReader<Chunk> queue, CancellationTokenSource failed)
    {
        try
        {
            await foreach (var chunk in queue.ReadAllAsync(failed.Token))
            {
                await WaitUntilAsync(chunk.DueTicks, failed.Token);
                if (chunk.Data is null)
                {
                    socket.Shutdown(SocketShutdown.Send);
                    return;
                }

                await socket.SendAsync(chunk.Data.AsMemory(0, chunk.Length), SocketFlags.None, failed.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            await failed.CancelAsync();
        }
    }

    private static async Task WaitUntilAsync(long dueTicks, CancellationToken cancellationToken)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), dueTicks);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }
    }
}
