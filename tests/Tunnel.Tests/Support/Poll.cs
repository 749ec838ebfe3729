namespace Tunnel.Tests.Support;

/// <summary>Polls an outside observable (an HTTP endpoint, a file) until a condition holds or a deadline passes. For
/// state inside the test process, wait on events instead.</summary>
internal static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    public static async Task<T> UntilAsync<T>(Func<Task<(bool Done, T Value)>> probe, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var (done, value) = await probe();
            if (done)
            {
                return value;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"{what} did not happen within {timeout.TotalSeconds:0} s; last seen: {value}");
            }

            await Task.Delay(Interval);
        }
    }
}
