using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Tunnel.Bench;

/// <summary>
/// Opens N connections through a tunnel to an echo upstream, proves each tunnel is established with one echoed
/// round trip, holds them until released, checks they are still alive, then closes them.
/// </summary>
internal static class IdleHolder
{
    private enum Outcome
    {
        NotTried,
        Established,
        Refused,
        Dropped,
        TimedOut,
    }

    public static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var target = args.Loopback("target");
        var count = args.Int("count", 100);
        var concurrency = args.Int("concurrency", 100);
        var payloadBytes = args.Int("payload-bytes", 16);
        var echoTimeout = TimeSpan.FromSeconds(args.Double("echo-timeout", 30));
        var deadline = TimeSpan.FromSeconds(args.Double("deadline", 600));
        var readyFile = args.Required("ready-file");
        var releaseFile = args.Required("release-file");
        var maxHold = TimeSpan.FromSeconds(args.Double("max-hold", 900));
        args.ThrowIfUnused();
        if (count is < 1 or > 19_000 || concurrency < 1 || payloadBytes is < 1 or > 512)
        {
            throw new ArgumentException("--count must be 1..19000, --concurrency ≥ 1, --payload-bytes 1..512");
        }

        var sockets = new Socket?[count];
        var outcomes = new Outcome[count];
        var payload = new byte[payloadBytes];
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)('a' + (i % 26));
        }

        // Establish: bounded concurrency, per-connection echo timeout, one deadline for the whole phase.
        var clock = Stopwatch.StartNew();
        using (var phase = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        using (var slots = new SemaphoreSlim(concurrency))
        {
            phase.CancelAfter(deadline);
            var tasks = new List<Task>(count);
            for (var i = 0; i < count && !phase.IsCancellationRequested; i++)
            {
                try
                {
                    await slots.WaitAsync(phase.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                var index = i;
                tasks.Add(Task.Run(
                    async () =>
                    {
                        try
                        {
                            (sockets[index], outcomes[index]) = await EstablishAsync(target, payload, echoTimeout, phase.Token);
                        }
                        finally
                        {
                            slots.Release();
                        }
                    },
                    CancellationToken.None));
            }

            await Task.WhenAll(tasks);
        }

        var establishSeconds = clock.Elapsed.TotalSeconds;
        var summary = new Dictionary<string, object>
        {
            ["requested"] = count,
            ["established"] = outcomes.Count(o => o == Outcome.Established),
            ["refused"] = outcomes.Count(o => o == Outcome.Refused),
            ["dropped"] = outcomes.Count(o => o == Outcome.Dropped),
            ["timedOut"] = outcomes.Count(o => o == Outcome.TimedOut),
            ["notTried"] = outcomes.Count(o => o == Outcome.NotTried),
            ["establishSeconds"] = Math.Round(establishSeconds, 3),
        };
        await WriteAtomicallyAsync(readyFile, JsonSerializer.Serialize(summary), cancellationToken);

        // Hold until the orchestrator has measured, bounded by --max-hold.
        var held = Stopwatch.StartNew();
        while (!File.Exists(releaseFile) && held.Elapsed < maxHold && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(100, CancellationToken.None);
        }

        // Still alive after the hold? One more echo on every established connection.
        using (var check = new CancellationTokenSource(echoTimeout + TimeSpan.FromSeconds(5)))
        using (var slots = new SemaphoreSlim(concurrency))
        {
            var alive = await Task.WhenAll(sockets.Select(async s =>
            {
                if (s is null)
                {
                    return false;
                }

                await slots.WaitAsync(CancellationToken.None);
                try
                {
                    return await EchoAsync(s, payload, echoTimeout, check.Token) == Outcome.Established;
                }
                finally
                {
                    slots.Release();
                }
            }));
            summary["aliveAfterHold"] = alive.Count(a => a);
        }

        summary["heldSeconds"] = Math.Round(held.Elapsed.TotalSeconds, 3);
        foreach (var socket in sockets)
        {
            socket?.Dispose();
        }

        Console.WriteLine(JsonSerializer.Serialize(summary));
        return 0;
    }

    private static async Task<(Socket?, Outcome)> EstablishAsync(
        IPEndPoint target, byte[] payload, TimeSpan echoTimeout, CancellationToken cancellationToken)
    {
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(echoTimeout);
            try
            {
                await socket.ConnectAsync(target, timeout.Token);
            }
            catch (SocketException)
            {
                socket.Dispose();
                return (null, Outcome.Refused);
            }
            catch (OperationCanceledException)
            {
                socket.Dispose();
                return (null, Outcome.TimedOut);
            }

            var outcome = await EchoAsync(socket, payload, echoTimeout, cancellationToken);
            if (outcome != Outcome.Established)
            {
                socket.Dispose();
                return (null, outcome);
            }

            return (socket, outcome);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends the payload and waits for all of it to come back.</summary>
    private static async Task<Outcome> EchoAsync(Socket socket, byte[] payload, TimeSpan echoTimeout, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(echoTimeout);
        var buffer = new byte[payload.Length];
        try
        {
            await socket.SendAsync(payload, SocketFlags.None, timeout.Token);
            var received = 0;
            while (received < payload.Length)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    return Outcome.Dropped;
                }

                received += read;
            }

            return Outcome.Established;
        }
        catch (SocketException)
        {
            return Outcome.Dropped;
        }
        catch (OperationCanceledException)
        {
            return Outcome.TimedOut;
        }
    }

    private static async Task WriteAtomicallyAsync(string path, string text, CancellationToken cancellationToken)
    {
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, text + "\n", cancellationToken);
        File.Move(temporary, path, overwrite: true);
    }
}
