using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Lifecycle;

/// <summary>A daemon started under <c>nohup</c> (SIGHUP inherited ignored, which .NET would keep ignored) still
/// reloads on SIGHUP and says at start that it took the signal back; SIGTERM still drains and stops it.</summary>
[Trait("Category", "EndToEnd")]
public sealed class SignalsWorkUnderNohup(ITestOutputHelper output)
{
    [Theory(Timeout = 90_000)]
    [InlineData("tunnel-server")]
    [InlineData("tunnel-client")]
    public async Task Sighup_reloads_a_daemon_started_under_nohup(string program)
    {
        // Guards the trap an operator (and a CI run of this repository) fell into: `nohup tunnel-server ... &`, then
        // `kill -HUP` to rotate certificates, and nothing happened, silently.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(70));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Nohup CA");
        await using var upstream = new TcpTestServer(_ => Task.CompletedTask);
        var server = pki.IssueServer(ProxyChain.ServerName);
        var client = pki.IssueClient(ProxyChain.ClientName);
        string[] arguments = program == "tunnel-server"
            ? ["--listen", "127.0.0.1:0", "--upstream", upstream.Address, "--cert", server.Cert, "--key", server.Key, "--ca", pki.CaPath]
            : ["--listen", "127.0.0.1:0", "--server", upstream.Address, "--server-name", ProxyChain.ServerName, "--cert", client.Cert,
                "--key", client.Key, "--ca", pki.CaPath, "--pool-size", "0"];
        await using var daemon = await TunnelProcess.StartAsync(binaries, program, arguments, output, deadline.Token, underNohup: true);

        var takenBack = await daemon.WaitForEventAsync(e => e.EventName == "SignalsTakenBack", "'SIGHUP ignored when the process started'", deadline.Token);
        // nohup ignores SIGHUP; the test runner may itself have inherited SIGINT and SIGQUIT ignored (a background job
        // of a non-interactive shell does), and the daemon takes those back too: SIGHUP must be among them.
        Assert.Contains("SIGHUP", takenBack["Signals"]!.Split(", "));
        Assert.Equal(0UL, IgnoredSignals(daemon.Process.Pid) & 1UL); // bit 0: SIGHUP, no longer ignored

        daemon.Process.Reload();
        await daemon.WaitForEventAsync(e => e.EventName == "ReloadDone", "'reload complete'", deadline.Token);
        Assert.Equal(0, await daemon.StopAsync(deadline.Token));
    }

    /// <summary>SigIgn of /proc/PID/status: bit n-1 set when signal n is ignored.</summary>
    private static ulong IgnoredSignals(int pid) =>
        Convert.ToUInt64(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))[7..].Trim(), 16);
}
