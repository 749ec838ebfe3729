using System.Buffers.Binary;

namespace Tunnel.Mux;

/// <summary>The frame types of the multiplexed wire (see docs/multiplexing.md).</summary>
internal enum MuxFrameType : byte
{
    /// <summary>Client → server: a new stream (a new tunneled TCP connection). Sent with the stream's first bytes.</summary>
    Open = 1,

    /// <summary>Bytes of one stream, one direction.</summary>
    Data = 2,

    /// <summary>The sender's direction of the stream has ended (a FIN): it still reads.</summary>
    Fin = 3,

    /// <summary>The stream is aborted both ways (an RST); the payload is a UTF-8 reason.</summary>
    Reset = 4,

    /// <summary>The receiver consumed this many more bytes of the stream (a 4-byte big-endian increment).</summary>
    Window = 5,

    /// <summary>Server → client: open no more streams on this connection (the server is draining); the ones open
    /// carry on.</summary>
    GoAway = 6,
}

/// <summary>Framing of a multiplexed TLS connection: many tunneled TCP connections (streams) over one TLS
/// connection. It is opt-in on the client and negotiated: the client's first bytes on the connection are
/// <see cref="Preamble"/>, and the server answers with <see cref="Acknowledgement"/> before any frame. A server that
/// does not speak it (stunnel) forwards the preamble to its upstream, which never sends the acknowledgement (an
/// upstream that echoes sends back the preamble, which differs), so the client notices and falls back to one TLS
/// connection per tunneled connection.</summary>
/// <remarks>
/// A frame is an 8-byte header (type, flags, payload length as a big-endian 16-bit number, stream id as a big-endian
/// 32-bit number) and its payload. A DATA frame carries at most <see cref="MaxDataPayload"/> bytes so that a frame
/// with its header fits one TLS record. Each stream starts with a send window of <see cref="InitialWindow"/> bytes in
/// each direction, replenished by WINDOW frames as the receiver's side consumes them, so a slow destination holds at
/// most its window of its stream in the receiver's memory and never stalls the other streams. A receiver may grant
/// more than it consumed (a WINDOW increment is only ever added), which is how a window grows: a sender needs nothing
/// new to accept it, so peers that never grow theirs and peers that do work together.
/// </remarks>
internal static class MuxProtocol
{
    public const int HeaderSize = 8;

    /// <summary>The largest TLS record plaintext, less a frame header.</summary>
    public const int MaxDataPayload = Relay.TlsRecord.MaxPlaintext - HeaderSize;

    public const int MaxControlPayload = 1024;

    /// <summary>The window every stream starts with, each way: part of the wire protocol, both sides assume it.</summary>
    public const int InitialWindow = 1024 * 1024;

    /// <summary>How far this side lets a stream's receive window grow (not part of the wire: a local limit). One
    /// stream's throughput is at most its window per round trip, and 1 MiB held a single multiplexed stream below a
    /// plain TLS connection's throughput even on loopback, where the sockets' buffers alone hold more.</summary>
    public const int MaxReceiveWindow = 4 * InitialWindow;

    /// <summary>"\0TMUX", a request marker and version 1, the size of a frame header; begins with NUL, so no HTTP,
    /// TLS or PROXY protocol peer can take it for its own.</summary>
    public static ReadOnlySpan<byte> Preamble => [0x00, (byte)'T', (byte)'M', (byte)'U', (byte)'X', 0x00, 0x00, 0x01];

    /// <summary>The server's answer: the preamble with the acknowledgement marker.</summary>
    public static ReadOnlySpan<byte> Acknowledgement => [0x00, (byte)'T', (byte)'M', (byte)'U', (byte)'X', 0x00, 0x01, 0x01];

    public static bool StartsWithPreamble(ReadOnlySpan<byte> data) => data.StartsWith(Preamble);

    public static void WriteHeader(Span<byte> destination, MuxFrameType type, int length, uint streamId)
    {
        destination[0] = (byte)type;
        destination[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], checked((ushort)length));
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], streamId);
    }

    public static (MuxFrameType Type, int Length, uint StreamId) ReadHeader(ReadOnlySpan<byte> source) =>
        ((MuxFrameType)source[0], BinaryPrimitives.ReadUInt16BigEndian(source[2..]), BinaryPrimitives.ReadUInt32BigEndian(source[4..]));
}

/// <summary>A stream ended abortively by the far side: the peer reset it (the message carries its reason), or the
/// multiplexed connection under it failed.</summary>
internal sealed class MuxStreamResetException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>The peer broke the multiplexing protocol; the whole TLS connection is closed.</summary>
internal sealed class MuxProtocolException(string message) : Exception(message);
