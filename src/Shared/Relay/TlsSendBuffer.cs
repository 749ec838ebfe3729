using Tunnel.Net;

namespace Tunnel.Relay;

/// <summary>The transport under an SslStream, written in large pieces: while a gathered write is under way, the TLS
/// records SslStream makes of it are sent together, in one socket write, instead of one by one.</summary>
/// <remarks>
/// SslStream encrypts a write of more than one record's worth of data record by record and writes each record to
/// its transport as soon as it is made: relaying 64 KiB cost four sends, and each send can wake the peer for a
/// quarter of the data. <see cref="WriteGatheredAsync"/> copies the records into one buffer and sends them when
/// SslStream is done with the write (or the buffer is full); a multiplexed connection's writer gathers the frames
/// queued together the same way (<see cref="Gather()"/>, <see cref="SendGatheredAsync"/>). The buffer is pooled and
/// handed back after every gathered write, so an idle connection holds none. Writes outside a gathered write (the
/// handshake, close_notify, small writes) go straight through, and so do reads. SslStream makes one write at a time,
/// and so does this stream.
/// </remarks>
internal sealed class TlsSendBuffer(Stream transport) : ReadWrappingStream(transport, ownsInner: true)
{
    /// <summary>What a gathering holds at most before it sends: the records of the relay's largest write
    /// (<see cref="StreamPump.MaxBufferSize"/>), which come to a little more than 256 KiB.</summary>
    public const int MaxSize = 512 * 1024;

    /// <summary>What gathering frames on purpose (<see cref="Gather()"/>) holds before it sends: eight records or so.</summary>
    private const int GatherSize = 128 * 1024;

    /// <summary>The most data one TLS record carries: a write no larger goes out as one record anyway.</summary>
    private const int MaxRecordData = 16384;

    private byte[]? _buffer;
    private int _length;
    private bool _gathering;
    private int _capacity;

    /// <summary>Writes <paramref name="data"/> through <paramref name="tls"/> (the SslStream over this stream),
    /// sending the records it makes in one socket write (up to <see cref="MaxSize"/>).</summary>
    public async ValueTask WriteGatheredAsync(Stream tls, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (data.Length <= MaxRecordData)
        {
            await tls.WriteAsync(data, cancellationToken);
            return;
        }

        // Room for every record the write makes, so that they leave in one socket write.
        var records = (data.Length + MaxRecordData - 1) / MaxRecordData;
        Gather(Math.Min(MaxSize, records * TlsReceiveBuffer.MaxRecordSize));
        try
        {
            await tls.WriteAsync(data, cancellationToken);
        }
        catch
        {
            Discard();
            throw;
        }

        await SendGatheredAsync(cancellationToken);
    }

    /// <summary>From now on, records wait in the buffer until <see cref="SendGatheredAsync"/> (or until the buffer
    /// cannot take the next one).</summary>
    public void Gather() => Gather(GatherSize);

    private void Gather(int capacity)
    {
        _gathering = true;
        _capacity = capacity;
    }

    /// <summary>Sends what was gathered and stops gathering.</summary>
    public async ValueTask SendGatheredAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SendAsync(cancellationToken);
        }
        finally
        {
            Discard();
        }
    }

    /// <summary>Stops gathering and drops what was gathered (the connection failed).</summary>
    public void Discard()
    {
        _gathering = false;
        _length = 0;
        if (_buffer is not null)
        {
            BufferPool.Shared.Return(_buffer);
            _buffer = null;
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_gathering)
        {
            await Inner.WriteAsync(buffer, cancellationToken);
            return;
        }

        if (_length + buffer.Length > _capacity)
        {
            await SendAsync(cancellationToken);
            if (buffer.Length > _capacity)
            {
                await Inner.WriteAsync(buffer, cancellationToken);
                return;
            }
        }

        if (_buffer is null)
        {
            _buffer = BufferPool.Shared.Rent(_capacity);
        }
        else if (_buffer.Length < _length + buffer.Length)
        {
            // A gathering with more room began while a smaller buffer held records (a large write after frames
            // gathered on purpose): move them to a buffer of the new size.
            var larger = BufferPool.Shared.Rent(_capacity);
            _buffer.AsSpan(0, _length).CopyTo(larger);
            BufferPool.Shared.Return(_buffer);
            _buffer = larger;
        }

        buffer.Span.CopyTo(_buffer.AsSpan(_length));
        _length += buffer.Length;
    }

    private async ValueTask SendAsync(CancellationToken cancellationToken)
    {
        if (_length > 0)
        {
            var length = _length;
            _length = 0;
            await Inner.WriteAsync(_buffer.AsMemory(0, length), cancellationToken);
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Inner.ReadAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => WriteAsync(buffer.ToArray()).AsTask().GetAwaiter().GetResult();
}
