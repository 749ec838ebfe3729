using System.Globalization;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Lifecycle;

/// <summary>A Native AOT daemon unpacks its compressed type data (about 2 MB) once at start and then hands its pages
/// back to the kernel (src/Shared/Runtime/StartupTypeData.cs, docs/operations.md "Footprint"). Checked from outside on
/// both daemons: the released range is a read-only mapping of the daemon's own executable, none of its pages is
/// resident after tunneled connections, a /metrics scrape and a reload (so nothing reads that data again: a read would
/// fault the page back in and fail the test), and the daemons keep tunneling throughout.</summary>
[Trait("Category", "EndToEnd")]
public sealed class PublishedFormReleasesStartupTypeData(ITestOutputHelper output)
{
    private const long FaultAround = 64 * 1024;

    [Fact(Timeout = 120_000)]
    public async Task Both_daemons_drop_the_type_data_they_unpacked_and_never_read_it_again()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Type Data CA");
        await using var parts = new AsyncDisposables();
        var upstream = parts.Add(new MarkedUpstream("typedata"));
        string[] debug = ["--log-level", "debug", "--admin-listen", "127.0.0.1:0"];
        var server = parts.Add(await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token, debug));
        var client = parts.Add(await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName,
            pki.IssueClient(ProxyChain.ClientName), pki.CaPath, output, deadline.Token, debug));

        var released = new List<(string Name, TunnelProcess Daemon, long Start, long Length)>();
        foreach (var (name, daemon) in new[] { ("tunnel-server", server), ("tunnel-client", client) })
        {
            var outcome = await daemon.WaitForEventAsync(e => e.EventName is "StartupTypeDataReleased" or "StartupTypeDataKept",
                "what became of the start-up type data", deadline.Token);
            output.WriteLine($"{name}: {outcome.Message}");
            if (outcome.EventName == "StartupTypeDataKept")
            {
                // A JIT build has no such data; any other reason means the release stopped working.
                Assert.Equal("not a Native AOT build", outcome["Reason"]);
                continue;
            }
            var start = long.Parse(outcome["Address"]!, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var length = long.Parse(outcome["KiB"]!, CultureInfo.InvariantCulture) * 1024;
            Assert.InRange(length, 1024 * 1024, 16 * 1024 * 1024);
            foreach (var at in new[] { start, start + length - 1 })
            {
                var mapping = ProcessStats.MappingAt(daemon.Process.Pid, at);
                Assert.True(mapping is { Permissions: "r--p" } && mapping.Value.Path == binaries.Of(name),
                    $"{name}: 0x{at:x} is in {mapping}, not a read-only mapping of {binaries.Of(name)}");
            }
            released.Add((name, daemon, start, length));
        }

        await OrdinaryUse.RunAsync(server, client, "typedata", deadline.Token);
        Assert.Equal("typedata", await MarkedClient.AskAsync(client.Port, "after-reload", deadline.Token));

        foreach (var (name, daemon, start, length) in released)
        {
            // The kernel maps file pages up to 64 KiB at a time around one that is read ("fault-around"), so reads of
            // the data next to the range may bring back its edge pages; the pages between the edges must stay out.
            var inner = (start + FaultAround - 1) / FaultAround * FaultAround;
            var innerEnd = (start + length) / FaultAround * FaultAround;
            var resident = ProcessStats.ResidentPages(daemon.Process.Pid, inner, innerEnd - inner);
            var edges = ProcessStats.ResidentPages(daemon.Process.Pid, start, length) - resident;
            output.WriteLine($"{name}: {resident} of {(innerEnd - inner) / Environment.SystemPageSize} released pages resident again, {edges} at the edges");
            Assert.Equal(0, resident);
        }
    }
}
