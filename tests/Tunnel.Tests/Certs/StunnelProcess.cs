using System.Diagnostics;
using System.Text;

namespace Tunnel.Tests.Certs;

/// <summary>One stunnel4 in the foreground on a loopback port, with its log captured. Ready once it logs that it
/// accepts connections (stunnel cannot report a port it chose, so the port is picked free and the start retried if
/// someone took it meanwhile). Only this process is ever killed.</summary>
internal sealed class StunnelProcess : IAsyncDisposable
{
    private const string Ready = "Accepting new connections";
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = [];

    private StunnelProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Waits for stunnel to log <paramref name="text"/> (it writes its log after the connection's bytes, so
    /// a test that reads <see cref="Log"/> at once can miss the line); fails with the log so far.</summary>
    public async Task WaitForLogAsync(string text, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_log)
        {
            if (_log.ToString().Contains(text, StringComparison.Ordinal))
            {
                return;
            }

            _waiters.Add((text, seen));
        }

        try
        {
            await seen.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"stunnel did not log '{text}' within {timeout.TotalSeconds:0} s; its log:\n{Log}");
        }
    }

    /// <summary>The stunnel binary, or a failed test saying how to install it: an interop test that silently
    /// passes without stunnel proves nothing.</summary>
    public static string Executable
    {
        get
        {
            foreach (var candidate in new[] { "/usr/bin/stunnel4", "/usr/bin/stunnel", "/usr/local/bin/stunnel4", "/usr/local/bin/stunnel" })
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            Assert.Fail("stunnel4 is not installed; the stunnel interop tests need it: apt-get install stunnel4 (the repo's test script installs it)");
            return "";
        }
    }

    /// <summary>Starts stunnel with the service section <paramref name="service"/>, which gets <c>accept</c> on a
    /// free loopback port.</summary>
    public static async Task<StunnelProcess> StartAsync(string folder, string name, string service, CancellationToken cancellationToken)
    {
        var executable = Executable;
        for (var attempt = 1; ; attempt++)
        {
            var port = Loopback.FreePort();
            var config = Path.Combine(folder, $"{name}.conf");
            await File.WriteAllTextAsync(config,
                $"foreground = yes\npid =\nsyslog = no\ndebug = info\n\n[{name}]\naccept = 127.0.0.1:{port}\n{service}\n", cancellationToken);
            var start = new ProcessStartInfo(executable) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            start.ArgumentList.Add(config);
            var process = new Process { StartInfo = start, EnableRaisingEvents = true };
            var stunnel = new StunnelProcess(process, port);
            process.ErrorDataReceived += (_, e) => stunnel.OnLine(e.Data);
            process.OutputDataReceived += (_, e) => stunnel.OnLine(e.Data);
            process.Exited += (_, _) => stunnel._ready.TrySetException(new InvalidOperationException("stunnel exited"));
            process.Start();
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            try
            {
                await stunnel._ready.Task.WaitAsync(cancellationToken);
                return stunnel;
            }
            catch (InvalidOperationException) when (attempt < 3 && stunnel.Log.Contains("Address already in use", StringComparison.Ordinal))
            {
                await stunnel.DisposeAsync();
            }
            catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
            {
                await stunnel.DisposeAsync();
                throw new InvalidOperationException($"stunnel [{name}] did not start:\n{stunnel.Log}", ex);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }

            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
            _waiters.RemoveAll(w => line.Contains(w.Text, StringComparison.Ordinal) && w.Seen.TrySetResult());
        }

        if (line.Contains(Ready, StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
    }
}
