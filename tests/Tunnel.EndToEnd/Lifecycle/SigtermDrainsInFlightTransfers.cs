using System.Net.Sockets;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Lifecycle;

/// <summary>SIGTERM (systemd stop, Kubernetes pod deletion) drains: the listener closes at once, connections in
/// flight run to completion, and the process exits 0.</summary>
[Trait("Category", "EndToEnd")]
public sealed class SigtermDrainsInFlightTransfers(ITestOutputHelper output)
{
    private const long Size = 8 * 1024 * 1024;

    [Theory(Timeout = 120_000)]
    [InlineData("tunnel-server")]
    [InlineData("tunnel-client")]
    public async Task A_transfer_in_flight_at_sigterm_completes_and_the_process_exits_0(string program)
    {
        // Guards against a stop signal cutting transfers in the middle (a truncated download presented as
        // complete), against the listener staying open during the drain, and against a clean drain exiting non-zero.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var binaries = await PublishedBinaries.GetAsync();
        using var pki = new TestPki("E2E Drain CA");
        var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new TaskCompletionSource<(string Sha256, long Length)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TcpTestServer(async socket =>
        {
            // tunnel-server's upstream health check connects and leaves without a byte: only the transfer, which sends
            // first, may reach the pause (a probe that did would release the test before the transfer even started).
            await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
            if (socket.Available == 0)
            {
                return;
            }

            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var receive = Payload.ReceiveAsync(stream);
            await Payload.SendAsync(new PausingStream(stream, Size / 4, paused, release.Task), Size, seed: 92);
            socket.Shutdown(SocketShutdown.Send);
            received.TrySetResult(await receive);
        });
        string[] drain = ["--shutdown-timeout", "20s"];
        await using var server = await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName),
            pki.CaPath, output, deadline.Token, drain);
        await using var client = await TunnelProcess.StartClientAsync(binaries, server.Address, ProxyChain.ServerName,
            pki.IssueClient(ProxyChain.ClientName), pki.CaPath, output, deadline.Token, drain);
        var stopping = program == "tunnel-server" ? server : client;

        var transfer = DuplexTransfer.RunAsync(client.Port, Size, seed: 91, deadline.Token);
        await paused.Task.WaitAsync(deadline.Token);
        stopping.Process.Terminate();
        // The client's warm pool keeps idle connections on the server too; they close at once and do not hold the drain.
        await stopping.WaitForEventAsync(e => e.EventName == "Draining" && int.Parse(e["Active"]!, System.Globalization.CultureInfo.InvariantCulture) >= 1,
            "'draining N connections'", deadline.Token);
        Assert.False(await Poll.AcceptsAsync(stopping.Port, deadline.Token), $"{program} still accepts connections while draining");
        Assert.False(transfer.IsCompleted, "the transfer ended before it was released");
        release.SetResult();

        var down = await transfer;
        var up = await received.Task.WaitAsync(deadline.Token);
        Assert.Equal((Payload.Expected(Size, 91), Size), up);
        Assert.Equal((Payload.Expected(Size, 92), Size), down);
        Assert.Equal(0, await stopping.Process.WaitForExitAsync(deadline.Token));
        var closed = await stopping.WaitForEventAsync(e => e.EventName == "ConnectionClosed" && e["BytesUp"] != "0",
            "the drained transfer's close line", deadline.Token);
        Assert.Equal("done", closed["Reason"]);
        Assert.Contains(stopping.Events, e => e.EventName == "Stopped");
    }
}
