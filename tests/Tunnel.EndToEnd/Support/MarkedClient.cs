using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tunnel.Tests.Support;

namespace Tunnel.EndToEnd.Support;

/// <summary>The test's end of the <see cref="MarkedUpstream"/> protocol, connecting to a tunnel-client (or anything in
/// front of the fleet) from a network namespace.</summary>
internal static class MarkedClient
{
    /// <summary>REQ: one short request/response. Sets the attempt's local port as soon as it is connected and its node
    /// once the answer is verified: the line names this request's id and is followed by the end of the stream.</summary>
    public static async Task RequestAsync(NetworkNamespace ns, IPEndPoint endpoint, LoadAttempt attempt, CancellationToken cancellationToken)
    {
        using var socket = ns.NewTcpSocket();
        await socket.ConnectAsync(endpoint, cancellationToken);
        attempt.LocalPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"REQ {attempt.Id}\n"), cancellationToken);
        attempt.Node = await ReadNodeAsync(stream, attempt.Id, cancellationToken);
        var rest = new byte[64];
        var extra = await stream.ReadAsync(rest, cancellationToken);
        if (extra != 0)
        {
            attempt.Node = null;
            throw new InvalidDataException($"{extra} unexpected bytes after the answer");
        }
    }

    /// <summary>REQ over loopback from this process (no namespace): one request with <paramref name="id"/> to
    /// 127.0.0.1:<paramref name="port"/>; returns the node that answered.</summary>
    public static async Task<string> AskAsync(int port, string id, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"REQ {id}\n"), cancellationToken);
        return await ReadNodeAsync(stream, id, cancellationToken);
    }

    /// <summary>Reads "NODE name id" and returns the name; anything else is a failure.</summary>
    public static async Task<string> ReadNodeAsync(Stream stream, string id, CancellationToken cancellationToken)
    {
        var line = await MarkedUpstream.ReadLineAsync(stream, cancellationToken)
            ?? throw new EndOfStreamException("the connection ended without an answer");
        var parts = line.Split(' ');
        if (parts.Length != 3 || parts[0] != "NODE" || parts[2] != id)
        {
            throw new InvalidDataException($"unexpected answer '{line}' to {id}");
        }

        return parts[1];
    }

    /// <summary>XFER: a full-duplex transfer of <paramref name="length"/> bytes each way (uploading seed
    /// <paramref name="seed"/>, the upstream sending seed <paramref name="seed"/> + 1); returns the node and the
    /// SHA-256 and length of what came down.</summary>
    public static async Task<(string Node, string Sha256, long Length)> TransferAsync(NetworkNamespace ns, IPEndPoint endpoint, string id, long length,
        int seed, CancellationToken cancellationToken)
    {
        using var socket = ns.NewTcpSocket();
        await socket.ConnectAsync(endpoint, cancellationToken);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"XFER {id} {length} {seed + 1}\n"), cancellationToken);
        var node = ReadNodeAsync(stream, id, cancellationToken);
        var upload = Task.Run(async () =>
        {
            await Payload.SendAsync(stream, length, seed, cancellationToken: cancellationToken);
            socket.Shutdown(SocketShutdown.Send);
        }, cancellationToken);
        var name = await node;
        var (sha256, received) = await Payload.ReceiveAsync(stream, cancellationToken);
        await upload;
        return (name, sha256, received);
    }
}

/// <summary>A long-running ECHO stream through the tunnel: paced chunks of seeded bytes, each read back and compared,
/// until <see cref="Stop"/>; then a half-close and the far end's. Records when and how it failed, on the test's
/// clock.</summary>
internal sealed class EchoStream
{
    private const int Chunk = 16 * 1024;
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(10);

    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<string> _node = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock;
    private long _echoed;

    private EchoStream(string id, Stopwatch clock)
    {
        Id = id;
        _clock = clock;
    }

    public string Id { get; }

    /// <summary>The node that answered, once it did.</summary>
    public Task<string> Node => _node.Task;

    public long Echoed => Interlocked.Read(ref _echoed);

    public Task<EchoStreamResult> Completion { get; private set; } = null!;

    public static EchoStream Start(NetworkNamespace ns, IPEndPoint endpoint, string id, Stopwatch clock, CancellationToken deadline)
    {
        var stream = new EchoStream(id, clock);
        stream.Completion = Task.Run(() => stream.RunAsync(ns, endpoint, deadline));
        return stream;
    }

    public void Stop() => _stop.Cancel();

    private async Task<EchoStreamResult> RunAsync(NetworkNamespace ns, IPEndPoint endpoint, CancellationToken deadline)
    {
        var random = new Random(Id.GetHashCode(StringComparison.Ordinal));
        var sent = new byte[Chunk];
        var back = new byte[Chunk];
        try
        {
            using var socket = ns.NewTcpSocket();
            await socket.ConnectAsync(endpoint, deadline);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"ECHO {Id}\n"), deadline);
            _node.TrySetResult(await MarkedClient.ReadNodeAsync(stream, Id, deadline));
            while (!_stop.IsCancellationRequested)
            {
                random.NextBytes(sent);
                await stream.WriteAsync(sent, deadline);
                await stream.ReadExactlyAsync(back, deadline);
                if (!back.AsSpan().SequenceEqual(sent))
                {
                    throw new InvalidDataException($"echoed bytes differ after {Echoed} good bytes");
                }

                Interlocked.Add(ref _echoed, Chunk);
                try
                {
                    await Task.Delay(Pace, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }

            socket.Shutdown(SocketShutdown.Send);
            if (await stream.ReadAsync(back, deadline) != 0)
            {
                throw new InvalidDataException("bytes after the half-close");
            }

            return new EchoStreamResult(Id, await Node, Echoed, null, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !deadline.IsCancellationRequested)
        {
            _node.TrySetException(ex);
            var node = _node.Task.IsCompletedSuccessfully ? _node.Task.Result : null;
            return new EchoStreamResult(Id, node, Echoed, $"{ex.GetType().Name}: {ex.Message}", _clock.Elapsed);
        }
    }
}

/// <summary>How an <see cref="EchoStream"/> ended: intact (no failure) or failed at a time on the test's clock.</summary>
internal sealed record EchoStreamResult(string Id, string? Node, long Echoed, string? Failure, TimeSpan? FailedAt);
