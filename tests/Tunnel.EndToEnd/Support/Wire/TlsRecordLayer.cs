namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>Reads one direction of a TCP stream as a sequence of TLS records, independently of tshark: every byte
/// must belong to a record header or body. Content types: 20 change_cipher_spec, 21 alert, 22 handshake, 23
/// application data (the outer type of every TLS 1.3 encrypted record).</summary>
internal static class TlsRecordLayer
{
    /// <summary>A record: its content type, body length and, for a handshake record, the first message type.</summary>
    public readonly record struct Record(int ContentType, int Length, int? HandshakeType);

    /// <summary>The records in <paramref name="payload"/>, and why the bytes stopped being TLS (null when every byte
    /// was; a record cut short by the end of the capture is not an error).</summary>
    public static (IReadOnlyList<Record> Records, string? Error) Parse(ReadOnlySpan<byte> payload)
    {
        // RFC 8446 section 5.1 and 5.2: at most 2^14 bytes of plaintext, 2^14 + 256 of ciphertext.
        const int MaxLength = (1 << 14) + 256;
        var records = new List<Record>();
        var offset = 0;
        while (offset + 5 <= payload.Length)
        {
            int type = payload[offset];
            var version = (payload[offset + 1] << 8) | payload[offset + 2];
            var length = (payload[offset + 3] << 8) | payload[offset + 4];
            if (type is < 20 or > 23 || version is not (0x0301 or 0x0303) || length > MaxLength)
            {
                return (records, $"byte {offset}: not a TLS record header ({Convert.ToHexString(payload.Slice(offset, 5))})");
            }

            int? handshake = type == 22 && offset + 5 < payload.Length ? payload[offset + 5] : null;
            records.Add(new Record(type, length, handshake));
            offset += 5 + length;
        }

        return (records, null);
    }
}
