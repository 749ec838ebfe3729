namespace Tunnel.Relay;

/// <summary>Sizes of TLS records that the relay's buffers are cut to.</summary>
internal static class TlsRecord
{
    /// <summary>The most plaintext one record carries: 2^14 bytes (RFC 8446, section 5.1).</summary>
    public const int MaxPlaintext = 16 * 1024;

    /// <summary>Room a layer above the relay may take in each record for its own framing: a multiplexed DATA frame's
    /// 8-byte header (Mux.MuxProtocol.HeaderSize, which a test keeps equal to this).</summary>
    public const int FramingAllowance = 8;

    /// <summary>Plaintext of one record less the framing allowance: what a full record carries of a relayed stream
    /// whether or not a layer frames it.</summary>
    public const int FramedPayload = MaxPlaintext - FramingAllowance;
}
