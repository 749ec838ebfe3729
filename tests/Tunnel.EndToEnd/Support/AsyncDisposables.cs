namespace Tunnel.EndToEnd.Support;

/// <summary>The parts of a test started as a group (a fleet of servers, their upstreams), disposed in reverse order
/// with the test. Starting them in parallel goes through <see cref="StartAllAsync{T}"/>, so that when one fails to
/// start, the ones that did start are still stopped.</summary>
internal sealed class AsyncDisposables : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _parts = [];

    public T Add<T>(T part)
        where T : IAsyncDisposable
    {
        _parts.Add(part);
        return part;
    }

    /// <summary>Awaits every start; each one that succeeded is kept for disposal, then the first failure is rethrown.</summary>
    public async Task<T[]> StartAllAsync<T>(IEnumerable<Task<T>> starts)
        where T : IAsyncDisposable
    {
        var tasks = starts.ToList();
        try
        {
            await Task.WhenAll(tasks);
        }
        catch
        {
            foreach (var started in tasks.Where(t => t.IsCompletedSuccessfully))
            {
                Add(started.Result);
            }

            throw;
        }

        return [.. tasks.Select(t => Add(t.Result))];
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _parts.Count - 1; i >= 0; i--)
        {
            await _parts[i].DisposeAsync();
        }

        _parts.Clear();
    }
}
