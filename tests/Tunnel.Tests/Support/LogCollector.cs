using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Tunnel.Tests.Support;

/// <summary>A logger factory for tests: routes every line to the test output and keeps it, so tests can assert on
/// what the daemon logged (close reasons, rejection reasons) and wait for a line to appear.</summary>
internal sealed class LogCollector : ILoggerFactory, ILoggerProvider
{
    private readonly ITestOutputHelper? _output;
    private readonly ConcurrentQueue<LogLine> _lines = new();
    private readonly List<(Func<LogLine, bool> Match, TaskCompletionSource<LogLine> Done)> _waiters = [];
    private readonly List<(Func<LogLine, bool> Match, int Remaining, TaskCompletionSource Done)> _counters = [];
    private readonly Lock _lock = new();

    public LogCollector(ITestOutputHelper? output = null) => _output = output;

    public IReadOnlyCollection<LogLine> Lines => _lines;

    public bool Contains(string text) => _lines.Any(l => l.Message.Contains(text, StringComparison.Ordinal));

    /// <summary>Completes when a line matching <paramref name="match"/> has been logged (or already was).</summary>
    public Task<LogLine> WaitForAsync(Func<LogLine, bool> match, TimeSpan timeout)
    {
        lock (_lock)
        {
            var existing = _lines.FirstOrDefault(match);
            if (existing is not null)
            {
                return Task.FromResult(existing);
            }

            var done = new TaskCompletionSource<LogLine>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, done));
            return done.Task.WaitAsync(timeout);
        }
    }

    public Task<LogLine> WaitForAsync(string text, TimeSpan timeout) =>
        WaitForAsync(l => l.Message.Contains(text, StringComparison.Ordinal), timeout);

    public int Count(Func<LogLine, bool> match) => _lines.Count(match);

    /// <summary>Completes when <paramref name="count"/> lines matching <paramref name="match"/> have been logged.</summary>
    public async Task WaitForCountAsync(Func<LogLine, bool> match, int count, TimeSpan timeout)
    {
        var seen = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            seen = _lines.Count(match);
            if (seen >= count)
            {
                return;
            }

            _counters.Add((match, count - seen, done));
        }

        try
        {
            await done.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Count(match)} of {count} expected log lines within {timeout.TotalSeconds:0} s");
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    private void Add(LogLine line)
    {
        lock (_lock)
        {
            _lines.Enqueue(line);
            foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
            {
                waiter.Done.TrySetResult(line);
                _waiters.Remove(waiter);
            }

            for (var i = _counters.Count - 1; i >= 0; i--)
            {
                var counter = _counters[i];
                if (counter.Match(line))
                {
                    if (counter.Remaining == 1)
                    {
                        counter.Done.TrySetResult();
                        _counters.RemoveAt(i);
                    }
                    else
                    {
                        _counters[i] = counter with { Remaining = counter.Remaining - 1 };
                    }
                }
            }
        }

        try
        {
            _output?.WriteLine($"{line.Level,-11} {line.Message}{(line.Exception is null ? "" : " | " + line.Exception)}");
        }
        catch (InvalidOperationException)
        {
            // The test already finished; its output helper is closed.
        }
    }

    private sealed class Logger(LogCollector owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var properties = state is IReadOnlyList<KeyValuePair<string, object?>> list
                ? list.ToDictionary(p => p.Key, p => p.Value)
                : new Dictionary<string, object?>();
            owner.Add(new LogLine(category, logLevel, eventId, formatter(state, exception), properties, exception));
        }
    }
}

internal sealed record LogLine(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, object?> Properties, Exception? Exception)
{
    public object? this[string property] => Properties.GetValueOrDefault(property);
}
