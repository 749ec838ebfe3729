using System.IO.Pipelines;
using Tunnel.Relay;

namespace Tunnel.Tests.Support;

/// <summary>An in-memory relay endpoint: the relay reads what the test writes to <see cref="Peer"/> and the test
/// reads what the relay writes. Records half-closes and aborts.</summary>
internal sealed class PipeEndpoint : IRelayEndpoint
{
    private readonly Pipe _toRelay = new();
    private readonly Pipe _fromRelay = new();

    public PipeEndpoint()
    {
        Stream = new DuplexPipeStream(_toRelay.Reader.AsStream(), _fromRelay.Writer.AsStream());
        Peer = new DuplexPipeStream(_fromRelay.Reader.AsStream(), _toRelay.Writer.AsStream());
    }

    /// <summary>The relay's side.</summary>
    public Stream Stream { get; }

    /// <summary>The test's side: the remote peer of this endpoint.</summary>
    public Stream Peer { get; }

    public bool WritesCompleted { get; private set; }

    public bool Aborted { get; private set; }

    /// <summary>The remote peer ends its stream (a FIN arriving).</summary>
    public void PeerCompletes() => _toRelay.Writer.Complete();

    /// <summary>The remote peer resets the connection: the relay's reads fail.</summary>
    public void PeerResets() => _toRelay.Writer.Complete(new IOException("connection reset by peer"));

    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken)
    {
        WritesCompleted = true;
        return _fromRelay.Writer.CompleteAsync();
    }

    public void Abort()
    {
        Aborted = true;
        _toRelay.Writer.Complete(new IOException("aborted"));
        _fromRelay.Writer.Complete(new IOException("aborted"));
        _toRelay.Reader.CancelPendingRead();
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class DuplexPipeStream(Stream reader, Stream writer) : Stream
    {
        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            reader.ReadAsync(buffer, cancellationToken);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            writer.WriteAsync(buffer, cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => reader.Read(buffer, offset, count);

        public override void Write(byte[] buffer, int offset, int count) => writer.Write(buffer, offset, count);

        public override void Flush() => writer.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
