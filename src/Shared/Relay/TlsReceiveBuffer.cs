using System.Buffers.Binary;
using Tunnel.Net;

namespace Tunnel.Relay;

/// <summary>The transport under an SslStream, read in large pieces: one receive takes up to eight full TLS records
/// (sixteen while receives fill the buffer), and SslStream's smaller reads (a header, then the rest of a record) are
/// served from memory. It also tells whether the next whole record is already here, so the relay can decrypt several
/// and write them on as one.</summary>
/// <remarks>
/// SslStream on Linux receives one record per read of its transport, usually in two system calls; in bulk transfer
/// that was 4 receives and 4 sends of 16 KiB for every 64 KiB relayed. Like the relay's own buffers, this one is
/// pooled and handed back whenever it is empty, so an idle connection holds none: a zero-byte read passes straight
/// through to the socket.
/// </remarks>
internal sealed class TlsReceiveBuffer(Stream transport) : ReadWrappingStream(transport, ownsInner: true), IReadAhead
{
    /// <summary>The largest record TLS 1.3 allows: 16 KiB of data and up to 256 bytes of type, padding and tag, plus
    /// the 5-byte header.</summary>
    public const int MaxRecordSize = 5 + 16384 + 256;

    /// <summary>What one receive offers at first: nearly eight records of the size this relay's peers send (16,406
    /// bytes: data, type byte, 16-byte tag, header), a whole array of the pool's.</summary>
    public const int MinSize = 128 * 1024;

    /// <summary>What receives that fill the buffer grow it to (<see cref="AdaptiveBufferSize"/>).</summary>
    public const int MaxSize = 256 * 1024;

    /// <summary>Records shorter than this are not read ahead: after the handshake a server sends session tickets and
    /// may send a key update, records that carry no data, and a read that decrypted one would wait for the next.</summary>
    private const int MinReadAheadRecord = 2048;

    private const int HeaderLength = 5;

    private AdaptiveBufferSize _size = new(MinSize, MaxSize);
    private byte[]? _buffer;
    private int _start;
    private int _end;

    // Where the record stream stands in what was handed to SslStream: bytes of the current record still to hand
    // over, or, at a record boundary (0), how much of the next header was already handed over.
    private int _recordLeft;
    private int _recordLength;
    private int _headerSeen;
    private readonly byte[] _header = new byte[HeaderLength];

    private int Buffered => _end - _start;

    /// <summary>While true, a read that waited for the socket returns on a thread-pool thread, never on the socket
    /// engine's event thread that completed it: set during the TLS handshake (<see cref="TlsEndpoint"/>).</summary>
    public bool ReturnOnThreadPool { get; set; }

    /// <summary>True when the rest of the record SslStream is working on, or the whole of the next record, is here
    /// and long enough to be data: SslStream's next read then decrypts it without waiting for the network.</summary>
    public bool MoreIsHere
    {
        get
        {
            if (_buffer is null)
            {
                return false;
            }

            var span = _buffer.AsSpan(_start, Buffered);
            if (_recordLeft > 0)
            {
                return _recordLength >= MinReadAheadRecord && span.Length >= _recordLeft;
            }

            if (_headerSeen > 0 || span.Length < HeaderLength)
            {
                return false;
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(span[3..]);
            return length >= MinReadAheadRecord && span.Length >= HeaderLength + length;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return Buffered > 0 ? 0 : await Inner.ReadAsync(buffer, cancellationToken);
        }

        if (Buffered == 0)
        {
            _buffer ??= BufferPool.Shared.Rent(_size.Current);
            var offered = Math.Min(_buffer.Length, _size.Current);
            int received;
            try
            {
                received = await Inner.ReadAsync(_buffer.AsMemory(0, offered), cancellationToken);
                if (ReturnOnThreadPool)
                {
                    await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
                }
            }
            catch
            {
                Release();
                throw;
            }

            if (received == 0)
            {
                Release();
                return 0;
            }

            _start = 0;
            _end = received;
            _size.Observe(received, offered);
        }

        var count = WholeRecords(Math.Min(buffer.Length, Buffered));
        var handed = _buffer.AsSpan(_start, count);
        handed.CopyTo(buffer.Span);
        Track(handed);
        _start += count;
        if (Buffered == 0)
        {
            Release();
        }

        return count;
    }

    /// <summary>How much of the first <paramref name="count"/> buffered bytes to hand over so that SslStream's buffer
    /// ends where a record ends: up to the end of the last whole record among them, or all of them when not even the
    /// current record ends there. SslStream moves a record it holds only in part to the front of its buffer before it
    /// reads the rest, and handed in arbitrary pieces nearly every record was copied twice.</summary>
    private int WholeRecords(int count)
    {
        if (_headerSeen > 0 || _recordLeft > count)
        {
            return count;
        }

        var span = _buffer.AsSpan(_start, count);
        var end = _recordLeft;
        while (end + HeaderLength <= count)
        {
            var next = end + HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(span[(end + 3)..]);
            if (next > count)
            {
                break;
            }

            end = next;
        }

        return end > 0 ? end : count;
    }

    /// <summary>Follows the record framing through the bytes handed to SslStream.</summary>
    private void Track(ReadOnlySpan<byte> handed)
    {
        while (!handed.IsEmpty)
        {
            if (_recordLeft > 0)
            {
                var step = Math.Min(_recordLeft, handed.Length);
                _recordLeft -= step;
                handed = handed[step..];
                continue;
            }

            var take = Math.Min(HeaderLength - _headerSeen, handed.Length);
            handed[..take].CopyTo(_header.AsSpan(_headerSeen));
            _headerSeen += take;
            handed = handed[take..];
            if (_headerSeen == HeaderLength)
            {
                _headerSeen = 0;
                _recordLeft = _recordLength = BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(3));
            }
        }
    }

    private void Release()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _start = _end = 0;
            BufferPool.Shared.Return(buffer);
        }
    }
}
