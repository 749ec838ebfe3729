using System.Diagnostics;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support;

/// <summary>Runs a tool that does one thing and exits (ip, nft, tshark) and returns what it printed. A non-zero exit
/// fails with its stderr; the deadline kills it. Unlike <see cref="ExternalProcess"/>, output is returned rather than
/// copied into the test output, which only gets the command line (tshark can print megabytes).</summary>
internal static class ShortCommand
{
    public static async Task<string> RunAsync(string fileName, IEnumerable<string> arguments, ITestOutputHelper output, CancellationToken deadline,
        bool echo = true)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var commandLine = $"{Path.GetFileName(fileName)} {string.Join(' ', info.ArgumentList.Select(Quote))}";
        if (echo)
        {
            TryWrite(output, "$ " + commandLine);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {fileName}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(deadline);
        var stderr = process.StandardError.ReadToEndAsync(deadline);
        try
        {
            await process.WaitForExitAsync(deadline);
            await Task.WhenAll(stdout, stderr);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{commandLine} did not finish in time");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{commandLine} exited with code {process.ExitCode}:\n{(await stderr).Trim()}\n{(await stdout).Trim()}");
        }

        return await stdout;
    }

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_./:=,@".Contains(c)) ? argument : $"'{argument}'";

    private static void TryWrite(ITestOutputHelper output, string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test already finished (a clean-up after a timeout).
        }
    }
}
