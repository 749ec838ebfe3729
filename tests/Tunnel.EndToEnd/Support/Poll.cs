using System.Net;

namespace Tunnel.EndToEnd.Support;

/// <summary>Bounded polling for things that announce themselves only by becoming true (a port accepting, a line in a
/// log file). The interval is short and the deadline is the caller's token: a poll never stands in for a fixed sleep.</summary>
internal static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    public static async Task UntilAsync(Func<CancellationToken, Task<bool>> condition, string what, CancellationToken deadline)
    {
        while (true)
        {
            try
            {
                if (await condition(deadline))
                {
                    return;
                }

                await Task.Delay(Interval, deadline);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"gave up waiting for {what}");
            }
        }
    }

    public static Task UntilAsync(Func<bool> condition, string what, CancellationToken deadline) =>
        UntilAsync(_ => Task.FromResult(condition()), what, deadline);

    /// <summary>Waits until something accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static Task UntilListeningAsync(int port, string what, CancellationToken deadline) =>
        UntilAsync(async token => await AcceptsAsync(port, token), $"{what} to listen on 127.0.0.1:{port}", deadline);

    public static Task<bool> AcceptsAsync(int port, CancellationToken cancellationToken) =>
        NetworkNamespace.Own.AcceptsAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);

    /// <summary>The lines of a text file another process appends to (empty if it does not exist yet).</summary>
    public static string[] ReadLines(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (FileNotFoundException)
        {
            return [];
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    /// <summary>Waits for a line matching <paramref name="match"/> to appear in <paramref name="path"/>.</summary>
    public static async Task<string> UntilLineAsync(string path, Func<string, bool> match, string what, CancellationToken deadline)
    {
        string? found = null;
        await UntilAsync(() => (found = ReadLines(path).FirstOrDefault(match)) is not null, what, deadline);
        return found!;
    }
}
