namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>The TLS records tshark dissected in one frame: plaintext content types (22 handshake, 20
/// change_cipher_spec, 21 alert, 23 application data), the outer type of TLS 1.3 encrypted records (always 23), the
/// handshake message types it could read, and every record's length in order.</summary>
internal sealed record TlsRecordsSeen(int Frame, int Stream, string Source, IReadOnlyList<int> ContentTypes, IReadOnlyList<int> OpaqueTypes,
    IReadOnlyList<int> HandshakeTypes, IReadOnlyList<int> Lengths)
{
    public override string ToString() =>
        $"#{Frame} stream {Stream} from {Source}: content [{string.Join(',', ContentTypes)}] opaque [{string.Join(',', OpaqueTypes)}] " +
        $"handshake [{string.Join(',', HandshakeTypes)}] lengths [{string.Join(',', Lengths)}]";
}
