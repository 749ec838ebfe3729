using System.Diagnostics;
using System.Runtime.InteropServices;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support;

/// <summary>A process a test started: its stdout and stderr are read line by line (and can be waited on), it can be
/// signalled, and disposing it kills it and everything it spawned by PID, then writes what it printed into the test
/// output. Proxy variables are removed from its environment so nothing bypasses the chain under test, and TUNNEL_*
/// variables too: the daemons read them as configuration and refuse unknown ones, and a test sets its daemons'
/// configuration completely (TUNNEL_PUBLISHED_DIR, set by the test script, would otherwise stop them with exit 3).</summary>
internal sealed class ExternalProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private const int SigHup = 1;
    private const int SigKill = 9;
    private static readonly TimeSpan ReapTimeout = TimeSpan.FromSeconds(10);
    private static readonly string[] ProxyVariables =
        ["http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"];

    private readonly Process _process;
    private readonly ITestOutputHelper _output;
    private readonly Func<string, string> _format;
    private readonly Lock _lock = new();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _waiters = [];
    private readonly Task _readers;
    private bool _disposed;

    private ExternalProcess(string name, Process process, ITestOutputHelper output, Func<string, string>? format)
    {
        Name = name;
        _process = process;
        _output = output;
        _format = format ?? (line => line);
        Pid = process.Id;
        _readers = Task.WhenAll(ReadAsync(process.StandardOutput, _stdout), ReadAsync(process.StandardError, _stderr));
    }

    public string Name { get; }

    public int Pid { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Stdout
    {
        get
        {
            lock (_lock)
            {
                return string.Join('\n', _stdout);
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_lock)
            {
                return string.Join('\n', _stderr);
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/>. <paramref name="format"/> turns a raw output line into what the
    /// test output shows (e.g. JSON log lines into their message).</summary>
    public static ExternalProcess Start(string name, string fileName, IEnumerable<string> arguments, ITestOutputHelper output,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null, Func<string, string>? format = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var variable in info.Environment.Keys.Where(k => ProxyVariables.Contains(k) || k.StartsWith("TUNNEL_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(variable);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {fileName}");
        process.StandardInput.Close();
        return new ExternalProcess(name, process, output, format);
    }

    /// <summary>Completes with the first output line (stdout or stderr) matching <paramref name="match"/>, already
    /// printed or still to come (only still to come, from the moment of the call, with <paramref name="onlyNew"/>).
    /// Fails if the process exits first or the deadline passes.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, string what, CancellationToken deadline, bool onlyNew = false)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            var existing = onlyNew ? null : _stdout.Concat(_stderr).FirstOrDefault(match);
            if (existing is not null)
            {
                return existing;
            }

            _waiters.Add((match, done));
        }

        var exited = _readers.ContinueWith(_ => "", CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        try
        {
            var first = await Task.WhenAny(done.Task, exited).WaitAsync(deadline);
            if (first != done.Task)
            {
                await _process.WaitForExitAsync(deadline);
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} before {what}:\n{Stderr}\n{Stdout}");
            }

            return await done.Task;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"gave up waiting for {Name}: {what}");
        }
        finally
        {
            lock (_lock)
            {
                _waiters.RemoveAll(w => w.Done == done);
            }
        }
    }

    /// <summary>Waits for the process to exit and for its output to be read; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken deadline)
    {
        try
        {
            await _process.WaitForExitAsync(deadline);
            await _readers.WaitAsync(deadline);
            return _process.ExitCode;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"{Name} (pid {Pid}) did not exit in time");
        }
    }

    /// <summary>Sends SIGTERM, as an init system or an operator would.</summary>
    public void Terminate()
    {
        if (Kill(Pid, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill -TERM {Pid} ({Name}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Sends SIGKILL to this process alone (<c>kill -9</c>), as a crash or the OOM killer would: no drain, no
    /// last log line; the kernel closes its sockets.</summary>
    public void KillNow()
    {
        if (Kill(Pid, SigKill) != 0)
        {
            throw new InvalidOperationException($"kill -KILL {Pid} ({Name}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Sends SIGHUP, as <c>systemctl reload</c> would.</summary>
    public void Reload()
    {
        if (Kill(Pid, SigHup) != 0)
        {
            throw new InvalidOperationException($"kill -HUP {Pid} ({Name}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                // By PID, with every descendant (Squid's helpers, nginx workers): nothing outlives the test.
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited in the meantime.
        }

        using var reap = new CancellationTokenSource(ReapTimeout);
        try
        {
            await _process.WaitForExitAsync(reap.Token);
            await _readers.WaitAsync(reap.Token);
        }
        catch (OperationCanceledException)
        {
            // A grandchild may hold the output pipe; what was read so far is still reported.
        }

        WriteToTestOutput();
        _process.Dispose();
    }

    private void WriteToTestOutput()
    {
        string[] stdout;
        string[] stderr;
        lock (_lock)
        {
            stdout = [.. _stdout];
            stderr = [.. _stderr];
        }

        var exit = _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
        TryWrite($"---- {Name} (pid {Pid}, exit code {exit}) ----");
        foreach (var line in stderr)
        {
            TryWrite("  " + _format(line));
        }

        foreach (var line in stdout)
        {
            TryWrite("  stdout: " + _format(line));
        }
    }

    private void TryWrite(string line)
    {
        try
        {
            _output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test already finished.
        }
    }

    private async Task ReadAsync(StreamReader reader, List<string> lines)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_lock)
            {
                lines.Add(line);
                foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
                {
                    waiter.Done.TrySetResult(line);
                    _waiters.Remove(waiter);
                }
            }
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}
