using Tunnel.Mux;
using Tunnel.Relay;

namespace Tunnel.Tests.Mux;

public sealed class MuxProtocolTests
{
    [Fact]
    public void A_full_DATA_frame_fills_one_TLS_record_and_the_relay_buffer_holds_four_of_them()
    {
        // The relay leaves room in each record for this framing without knowing about it (TlsRecord.FramingAllowance):
        // if the header grew, relay reads would go out as four records and a small fifth.
        Assert.Equal(MuxProtocol.HeaderSize, TlsRecord.FramingAllowance);
        Assert.Equal(TlsRecord.MaxPlaintext, MuxProtocol.HeaderSize + MuxProtocol.MaxDataPayload);
        Assert.Equal(4 * MuxProtocol.MaxDataPayload, StreamPump.DefaultBufferSize);
    }
}
