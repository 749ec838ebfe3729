using System.Buffers.Binary;
using System.Text.Json;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>tcpdump writing every whole frame on one interface to a pcap file. Stopping is synchronised with the
/// interface rather than timed: tcpdump reads frames from a ring buffer and a SIGTERM abandons whatever it has not
/// read yet (observed: "0 packets captured, 45 packets received by filter"), so <see cref="StopAsync"/> first polls
/// until the file holds as many frames as the interface has sent and received since the capture began, and only then
/// stops tcpdump. Immediate mode and -U (a flush per frame) make the file catch up within milliseconds.</summary>
internal sealed class PacketCapture : IAsyncDisposable
{
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(15);

    private readonly NetworkNamespace _ns;
    private readonly ITestOutputHelper _output;
    private readonly ExternalProcess _process;
    private long _baseline;

    private PacketCapture(NetworkNamespace ns, string interfaceName, string path, ExternalProcess process, ITestOutputHelper output)
    {
        _ns = ns;
        Interface = interfaceName;
        Path = path;
        _process = process;
        _output = output;
    }

    public string Interface { get; }

    public string Path { get; }

    public static async Task<PacketCapture> StartAsync(NetworkNamespace ns, string interfaceName, string path, ITestOutputHelper output,
        CancellationToken deadline)
    {
        // -n: no name lookups (they would be traffic of their own); -s 0: whole frames; -Z root: write the file as root
        // rather than as the 'tcpdump' user, who cannot write into the sandbox.
        var process = ns.Start($"tcpdump -i {interfaceName}", RequiredTool.Tcpdump,
            ["-i", interfaceName, "-n", "-s", "0", "--immediate-mode", "-U", "-Z", "root", "-w", path], output);
        var capture = new PacketCapture(ns, interfaceName, path, process, output);
        try
        {
            await process.WaitForLineAsync(l => l.Contains($"listening on {interfaceName}", StringComparison.Ordinal),
                $"tcpdump to listen on {interfaceName}", deadline);
            // Frames between "listening" and this reading are in the file but not counted: the file may hold more
            // than the count, never fewer.
            capture._baseline = await capture.InterfaceFramesAsync(deadline);
            return capture;
        }
        catch
        {
            await capture.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until every frame the interface has carried is in the file, stops the capture and returns the
    /// file's path.</summary>
    public async Task<string> StopAsync(CancellationToken deadline)
    {
        using var catchUp = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        catchUp.CancelAfter(CatchUpTimeout);
        long seen = 0, written = 0;
        await Poll.UntilAsync(async token =>
        {
            seen = await InterfaceFramesAsync(token) - _baseline;
            written = CountFrames(Path);
            return written >= seen;
        }, $"tcpdump on {Interface} to write the frames the interface carried (last: {written} of {seen})", catchUp.Token);
        _output.WriteLine($"capture on {Interface}: {written} frames written, the interface carried {seen} since the capture began");

        _process.Terminate();
        var exitCode = await _process.WaitForExitAsync(deadline);
        Assert.True(exitCode == 0, $"tcpdump on {Interface} exited with code {exitCode}:\n{_process.Stderr}");
        Assert.True(_process.Stderr.Contains("\n0 packets dropped by kernel", StringComparison.Ordinal),
            $"tcpdump on {Interface} reports frames the kernel dropped (the capture has holes):\n{_process.Stderr}");
        return Path;
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    /// <summary>Frames received plus frames sent on the interface, as the kernel counts them.</summary>
    private async Task<long> InterfaceFramesAsync(CancellationToken deadline)
    {
        var json = await ShortCommand.RunAsync(RequiredTool.Ip, ["-n", _ns.Name!, "-s", "-j", "link", "show", "dev", Interface], _output, deadline,
            echo: false);
        using var document = JsonDocument.Parse(json);
        var stats = document.RootElement[0].GetProperty("stats64");
        return stats.GetProperty("rx").GetProperty("packets").GetInt64() + stats.GetProperty("tx").GetProperty("packets").GetInt64();
    }

    /// <summary>Complete frame records in a pcap file being written (a 24-byte header, then a 16-byte header and the
    /// bytes of each frame; tcpdump writes in the machine's byte order).</summary>
    private static long CountFrames(string path)
    {
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            bytes = memory.ToArray();
        }
        catch (FileNotFoundException)
        {
            return 0;
        }

        long frames = 0;
        var offset = 24;
        while (offset + 16 <= bytes.Length)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 8, 4));
            if (offset + 16 + length > bytes.Length)
            {
                break;
            }

            frames++;
            offset += 16 + length;
        }

        return frames;
    }
}
