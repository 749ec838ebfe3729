using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Tunnel.Bench;

/// <summary>Time to first byte of a new connection: connect, send one request, wait for the first response byte.</summary>
internal static class TtfbProbe
{
    public static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var target = args.Loopback("target");
        var count = args.Int("count", 50);
        var timeout = TimeSpan.FromSeconds(args.Double("timeout", 10));
        var request = Encoding.ASCII.GetBytes(
            (args.Text("request") ?? "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").Replace("\\r\\n", "\r\n", StringComparison.Ordinal));
        args.ThrowIfUnused();
        if (count is < 1 or > 10_000)
        {
            throw new ArgumentException("--count must be 1..10000");
        }

        var samples = new List<double>(count);
        var failures = 0;
        var buffer = new byte[16 * 1024];
        for (var i = 0; i < count && !cancellationToken.IsCancellationRequested; i++)
        {
            using var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            try
            {
                var start = Stopwatch.GetTimestamp();
                await socket.ConnectAsync(target, limit.Token);
                await socket.SendAsync(request, SocketFlags.None, limit.Token);
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
                var elapsed = Stopwatch.GetElapsedTime(start);
                if (read == 0)
                {
                    failures++;
                    continue;
                }

                samples.Add(elapsed.TotalMilliseconds);

                // Read the rest of the response (the server closes) so connections do not pile up.
                while (await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token) > 0)
                {
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                failures++;
            }
        }

        samples.Sort();
        var result = new Dictionary<string, object?>
        {
            ["count"] = count,
            ["ok"] = samples.Count,
            ["failed"] = failures,
            ["p50Ms"] = Percentile(samples, 0.50),
            ["p90Ms"] = Percentile(samples, 0.90),
            ["minMs"] = samples.Count > 0 ? Math.Round(samples[0], 3) : null,
            ["maxMs"] = samples.Count > 0 ? Math.Round(samples[^1], 3) : null,
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        return samples.Count > 0 ? 0 : 1;
    }

    /// <summary>Nearest-rank percentile of sorted samples.</summary>
    private static double? Percentile(List<double> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return null;
        }

        var rank = (int)Math.Ceiling(p * sorted.Count) - 1;
        return Math.Round(sorted[Math.Clamp(rank, 0, sorted.Count - 1)], 3);
    }
}
