using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Tunnel.Tests.Support;

namespace Tunnel.EndToEnd.Support;

/// <summary>The upstream behind one tunnel-server of a fleet. It names its node in the first line of every answer,
/// so a test knows which server carried a connection, and records every connection id it saw. The first line a
/// connection sends chooses what happens (see <see cref="MarkedClient"/> for the other end):
/// <list type="bullet">
/// <item><c>REQ id</c>: answers <c>NODE node id</c> and closes (a short request/response).</item>
/// <item><c>ECHO id</c>: answers <c>NODE node id</c>, then echoes everything until the client half-closes (a
/// long-running stream, or an idle connection held open).</item>
/// <item><c>XFER id length seed</c>: answers <c>NODE node id</c>, then sends <c>length</c> seeded bytes while hashing
/// everything the client sends (a full-duplex transfer checked by SHA-256 both ways). With <see cref="HoldTransfers"/>
/// it pauses after a quarter until <see cref="ReleaseTransfers"/>, so the transfer is demonstrably in flight.</item>
/// </list>
/// A connection that sends nothing (a tunnel-server's upstream health check) is simply closed.</summary>
internal sealed class MarkedUpstream : IAsyncDisposable
{
    private const int MaxLine = 256;

    private readonly TcpTestServer _server;
    private readonly ConcurrentDictionary<string, bool> _seen = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<(string Sha256, long Length)>> _received = new();
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _paused;

    /// <param name="node">The name this upstream answers with (the tunnel-server it stands behind).</param>
    /// <param name="ns">Where it listens (on 127.0.0.1 of that namespace); the test's own by default.</param>
    public MarkedUpstream(string node, NetworkNamespace? ns = null)
    {
        Node = node;
        _server = new TcpTestServer((ns ?? NetworkNamespace.Own).NewTcpSocket(), HandleAsync);
    }

    public string Node { get; }

    public string Address => _server.Address;

    /// <summary>Pause every XFER transfer after a quarter of its download until <see cref="ReleaseTransfers"/>.</summary>
    public bool HoldTransfers { get; init; }

    /// <summary>XFER transfers that reached their pause.</summary>
    public int Paused => Volatile.Read(ref _paused);

    /// <summary>Whether a connection with this id reached this upstream.</summary>
    public bool Saw(string id) => _seen.ContainsKey(id);

    public void ReleaseTransfers() => _release.TrySetResult();

    /// <summary>What the XFER connection <paramref name="id"/> uploaded (SHA-256 and length), once it half-closed.</summary>
    public Task<(string Sha256, long Length)> ReceivedAsync(string id) => Received(id).Task;

    private TaskCompletionSource<(string Sha256, long Length)> Received(string id) =>
        _received.GetOrAdd(id, _ => new TaskCompletionSource<(string, long)>(TaskCreationOptions.RunContinuationsAsynchronously));

    private async Task HandleAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var line = await ReadLineAsync(stream, CancellationToken.None);
        if (line is null)
        {
            return;
        }

        var parts = line.Split(' ');
        var id = parts.Length > 1 ? parts[1] : "?";
        _seen[id] = true;
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"NODE {Node} {id}\n"));
        switch (parts[0])
        {
            case "REQ":
                socket.Shutdown(SocketShutdown.Send);
                await DrainAsync(stream);
                break;
            case "ECHO":
                await stream.CopyToAsync(stream);
                socket.Shutdown(SocketShutdown.Send);
                break;
            case "XFER" when parts.Length == 4:
                var length = long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
                var seed = int.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture);
                var receive = Payload.ReceiveAsync(stream);
                Stream sink = stream;
                if (HoldTransfers)
                {
                    var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _ = paused.Task.ContinueWith(_ => Interlocked.Increment(ref _paused), TaskScheduler.Default);
                    sink = new PausingStream(stream, length / 4, paused, _release.Task);
                }

                await Payload.SendAsync(sink, length, seed);
                socket.Shutdown(SocketShutdown.Send);
                Received(id).TrySetResult(await receive);
                break;
            default:
                break;
        }
    }

    private static async Task DrainAsync(Stream stream)
    {
        var buffer = new byte[4096];
        while (await stream.ReadAsync(buffer) > 0)
        {
        }
    }

    /// <summary>One '\n'-terminated ASCII line read byte by byte (nothing past it is consumed); null at end of stream.</summary>
    public static async Task<string?> ReadLineAsync(Stream stream, CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (line.Length < MaxLine)
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                return null;
            }

            if (one[0] == '\n')
            {
                return line.ToString();
            }

            line.Append((char)one[0]);
        }

        throw new InvalidDataException($"no end of line within {MaxLine} bytes: {line}");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
