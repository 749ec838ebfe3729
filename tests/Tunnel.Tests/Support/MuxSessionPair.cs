using System.Threading.Channels;
using Tunnel.Mux;

namespace Tunnel.Tests.Support;

/// <summary>A multiplexed client and server session over a <see cref="TlsEndpointPair"/>; the server's streams are
/// handed out in <see cref="Accepted"/> as their first frames arrive.</summary>
internal sealed record MuxSessionPair(MuxSession Client, MuxSession Server, Channel<MuxStream> Accepted) : IAsyncDisposable
{
    /// <summary>Connects; each side's streams' receive windows grow up to its limit
    /// (<see cref="MuxProtocol.InitialWindow"/> stands for a peer that never grows them).</summary>
    public static async Task<MuxSessionPair> ConnectAsync(TlsEndpointPair pair, TimeSpan timeout,
        int clientLimit = MuxProtocol.MaxReceiveWindow, int serverLimit = MuxProtocol.MaxReceiveWindow)
    {
        var accepted = Channel.CreateUnbounded<MuxStream>();
        var connect = MuxSession.ConnectAsync(pair.Client.Endpoint, maxStreams: 8, TimeProvider.System, CancellationToken.None, clientLimit);
        var preamble = new byte[MuxProtocol.Preamble.Length];
        await pair.Server.Endpoint.Stream.ReadExactlyAsync(preamble).AsTask().WaitAsync(timeout);
        Assert.Equal(MuxProtocol.Preamble.ToArray(), preamble);
        var server = MuxSession.Accept(pair.Server.Endpoint, ReadOnlyMemory<byte>.Empty, maxStreams: 8,
            stream => accepted.Writer.WriteAsync(stream).AsTask(), TimeProvider.System, serverLimit);
        return new MuxSessionPair(await connect.WaitAsync(timeout), server, accepted);
    }

    /// <summary>The server's side of the next stream the client sends something on.</summary>
    public async Task<MuxStream> AcceptAsync(TimeSpan timeout) => await Accepted.Reader.ReadAsync().AsTask().WaitAsync(timeout);

    /// <summary>A stream both sides know, with nothing waiting on it: the client sends one byte (a stream reaches the
    /// server with its first bytes) and the server reads it.</summary>
    public async Task<StreamPair> OpenStreamAsync(TimeSpan timeout)
    {
        var client = Client.Open();
        await client.WriteAsync(new byte[] { 0 }).AsTask().WaitAsync(timeout);
        var server = await AcceptAsync(timeout);
        Assert.Equal(1, await server.ReadAsync(new byte[1]).AsTask().WaitAsync(timeout));
        return new StreamPair(client, server);
    }

    /// <summary>The two ends of one stream, disposed together.</summary>
    internal sealed record StreamPair(MuxStream Client, MuxStream Server) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}
