using System.Net;
using System.Text;
using Tunnel.Net.ProxyProtocol;

namespace Tunnel.Tests.Net;

/// <summary>The PROXY protocol parser against byte-exact vectors built from the specification
/// (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt): what it must accept, what it must refuse, and that it
/// never needs more than <see cref="ProxyHeaderParser.MaxLength"/> bytes to decide.</summary>
public sealed class ProxyHeaderParserTests
{
    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>§2.2: TCP over IPv4, 192.168.0.1:56324 to 192.168.0.11:443 (the v1 example of §2.1, in binary).</summary>
    private static readonly byte[] V2Tcp4 =
    [
        .. Signature, 0x21, 0x11, 0x00, 0x0C,
        192, 168, 0, 1, 192, 168, 0, 11, 0xDC, 0x04, 0x01, 0xBB,
    ];

    /// <summary>TCP over IPv6, [2001:db8::1]:40000 to [2001:db8::2]:443.</summary>
    private static readonly byte[] V2Tcp6 =
    [
        .. Signature, 0x21, 0x21, 0x00, 0x24,
        0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
        0x9C, 0x40, 0x01, 0xBB,
    ];

    [Fact]
    public void The_v1_example_of_the_specification_is_parsed_and_the_request_after_it_is_left_alone()
    {
        var data = Ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n");

        var header = Complete(data, ProxyProtocolMode.V1);

        Assert.Equal(ProxyProtocolVersion.V1, header.Version);
        Assert.Equal(IPEndPoint.Parse("192.168.0.1:56324"), header.Source);
        Assert.Equal(IPEndPoint.Parse("192.168.0.11:443"), header.Destination);
        Assert.Equal("GET / HTTP/1.1\r\n", Encoding.ASCII.GetString(data, header.Length, 16));
    }

    [Theory]
    [InlineData("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", 56)]
    [InlineData("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", 104)]
    [InlineData("PROXY TCP4 0.0.0.0 10.0.0.1 0 1\r\n", 33)]
    [InlineData("PROXY TCP6 ::ffff:192.0.2.7 2001:db8::1 51000 443\r\n", 51)]
    public void The_longest_v1_lines_of_each_family_are_accepted(string line, int length)
    {
        Assert.Equal(length, line.Length);
        var header = Complete(Ascii(line), ProxyProtocolMode.Any);
        Assert.Equal(length, header.Length);
        Assert.NotNull(header.Source);
    }

    [Theory]
    [InlineData("PROXY UNKNOWN\r\n")]
    [InlineData("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n")]
    public void A_v1_UNKNOWN_line_keeps_the_real_endpoints_and_may_be_107_bytes(string line)
    {
        var header = Complete(Ascii(line + "\x16\x03\x01"), ProxyProtocolMode.V1);
        Assert.Null(header.Source);
        Assert.Null(header.Destination);
        Assert.Equal(line.Length, header.Length);
        Assert.True(line.Length is 15 or ProxyHeaderParser.MaxV1Length);
    }

    [Fact]
    public void A_v1_line_without_CRLF_in_its_first_107_bytes_is_refused()
    {
        var line = "PROXY UNKNOWN " + new string('f', 93) + "\r\n";
        Assert.Equal(109, line.Length);
        Assert.Contains("without CRLF in its first 107 bytes", Invalid(Ascii(line), ProxyProtocolMode.V1));
    }

    [Theory]
    [InlineData("PROXY TCP4 192.168.000.1 192.168.0.11 56324 443\r\n", "canonical TCP4 address")]
    [InlineData("PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n", "port")]
    [InlineData("PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n", "port")]
    [InlineData("PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n", "four fields")]
    [InlineData("PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n", "four fields")]
    [InlineData("PROXY TCP4 2001:db8::1 192.168.0.11 56324 443\r\n", "canonical TCP4 address")]
    [InlineData("PROXY TCP6 192.168.0.1 2001:db8::1 56324 443\r\n", "canonical TCP6 address")]
    [InlineData("PROXY TCP6 fe80::1%eth0 2001:db8::1 56324 443\r\n", "canonical TCP6 address")]
    [InlineData("PROXY UDP4 192.168.0.1 192.168.0.11 56324 443\r\n", "unknown protocol 'UDP4'")]
    [InlineData("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n", "bare LF")]
    [InlineData("PROXY TCP4 192.168.0.1\r192.168.0.11 56324 443\r\n", "non-text byte 0x0D")]
    [InlineData("PROXY TCP4 192.168.0.1\t192.168.0.11 56324 443\r\n", "non-text byte 0x09")]
    [InlineData("proxy TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", "no PROXY protocol header")]
    public void A_v1_line_that_does_not_match_the_grammar_exactly_is_refused(string line, string reason) =>
        Assert.Contains(reason, Invalid(Ascii(line), ProxyProtocolMode.Any));

    [Fact]
    public void The_v2_TCP4_vector_is_parsed_and_the_payload_after_it_is_left_alone()
    {
        byte[] data = [.. V2Tcp4, 0x16, 0x03, 0x01];

        var header = Complete(data, ProxyProtocolMode.V2);

        Assert.Equal(ProxyProtocolVersion.V2, header.Version);
        Assert.Equal(IPEndPoint.Parse("192.168.0.1:56324"), header.Source);
        Assert.Equal(IPEndPoint.Parse("192.168.0.11:443"), header.Destination);
        Assert.Equal(28, header.Length);
        Assert.False(header.IsLocal);
    }

    [Fact]
    public void The_v2_TCP6_vector_is_parsed()
    {
        var header = Complete(V2Tcp6, ProxyProtocolMode.Any);
        Assert.Equal(IPEndPoint.Parse("[2001:db8::1]:40000"), header.Source);
        Assert.Equal(IPEndPoint.Parse("[2001:db8::2]:443"), header.Destination);
        Assert.Equal(52, header.Length);
    }

    [Fact]
    public void TLVs_after_the_v2_addresses_are_skipped_as_part_of_the_header()
    {
        // PP2_TYPE_AUTHORITY "tunnel.example" and a 3-byte PP2_TYPE_NOOP, as HAProxy's send-proxy-v2 may add.
        byte[] tlvs = [0x02, 0x00, 0x0E, .. Ascii("tunnel.example"), 0x04, 0x00, 0x03, 0, 0, 0];
        byte[] data = [.. Signature, 0x21, 0x11, 0x00, (byte)(12 + tlvs.Length), .. V2Tcp4[16..], .. tlvs, 0x16];

        var header = Complete(data, ProxyProtocolMode.V2);

        Assert.Equal(IPEndPoint.Parse("192.168.0.1:56324"), header.Source);
        Assert.Equal(data.Length - 1, header.Length);
    }

    [Fact]
    public void A_v2_LOCAL_command_keeps_the_real_endpoints_and_its_declared_length_is_still_skipped()
    {
        Assert.True(Complete([.. Signature, 0x20, 0x00, 0x00, 0x00], ProxyProtocolMode.V2) is { IsLocal: true, Source: null, Length: 16 });

        // "Receivers MUST always consider this field to skip the appropriate number of bytes and must not assume zero
        // is presented for LOCAL connections."
        var withBlock = Complete([.. Signature, 0x20, 0x11, 0x00, 0x0C, .. V2Tcp4[16..], 0x16], ProxyProtocolMode.V2);
        Assert.True(withBlock is { IsLocal: true, Source: null, Length: 28 });
    }

    [Theory]
    [InlineData(0x00, 0)] // UNSPEC
    [InlineData(0x12, 12)] // UDP over IPv4
    [InlineData(0x22, 36)] // UDP over IPv6
    [InlineData(0x31, 216)] // UNIX stream
    public void V2_families_other_than_TCP_fall_back_to_the_real_endpoints(byte familyAndProtocol, int addressLength)
    {
        var data = V2(0x21, familyAndProtocol, new byte[addressLength]);
        var header = Complete(data, ProxyProtocolMode.V2);
        Assert.Null(header.Source);
        Assert.False(header.IsLocal);
        Assert.Equal(16 + addressLength, header.Length);
    }

    [Theory]
    [InlineData(0x11, 0x11, "version 1")]
    [InlineData(0x22, 0x11, "unknown command 0x2")]
    [InlineData(0x21, 0x41, "unknown address family and protocol 0x41")]
    [InlineData(0x21, 0x13, "unknown address family and protocol 0x13")]
    [InlineData(0x21, 0x10, "unknown address family and protocol 0x10")]
    [InlineData(0x21, 0x01, "unknown address family and protocol 0x01")]
    public void V2_version_command_or_family_bytes_outside_the_specification_are_refused(byte versionAndCommand, byte familyAndProtocol, string reason) =>
        Assert.Contains(reason, Invalid(V2(versionAndCommand, familyAndProtocol, new byte[12]), ProxyProtocolMode.V2));

    [Fact]
    public void A_v2_address_block_shorter_than_its_family_is_refused() =>
        Assert.Contains("too short for its addresses", Invalid(V2(0x21, 0x21, new byte[12]), ProxyProtocolMode.V2));

    [Fact]
    public void A_v2_header_longer_than_the_bound_is_refused_as_soon_as_its_length_field_arrives()
    {
        byte[] fixedPart = [.. Signature, 0x21, 0x11, 0x0F, 0xF1]; // 4081 bytes declared
        Assert.Contains("4081 bytes of addresses and TLVs, more than the 4080 accepted", Invalid(fixedPart, ProxyProtocolMode.V2));

        var largest = V2(0x21, 0x11, new byte[ProxyHeaderParser.MaxLength - 16]);
        Assert.Equal(ProxyHeaderParser.MaxLength, Complete(largest, ProxyProtocolMode.V2).Length);
    }

    [Fact]
    public void Every_proper_prefix_of_a_valid_header_asks_for_more_bytes()
    {
        foreach (var (data, mode) in new[]
                 {
                     (V2Tcp4, ProxyProtocolMode.V2),
                     (V2Tcp6, ProxyProtocolMode.Any),
                     (Ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), ProxyProtocolMode.V1),
                     (Ascii("PROXY UNKNOWN\r\n"), ProxyProtocolMode.Any),
                 })
        {
            for (var n = 0; n < data.Length; n++)
            {
                Assert.Equal(ProxyParseStatus.Incomplete, ProxyHeaderParser.TryParse(data.AsSpan(0, n), mode, out _, out _));
            }

            Assert.Equal(ProxyParseStatus.Complete, ProxyHeaderParser.TryParse(data, mode, out _, out _));
        }
    }

    [Fact]
    public void A_TLS_ClientHello_without_a_header_is_refused_from_its_first_byte_and_named()
    {
        byte[] clientHello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01];
        var reason = Invalid(clientHello[..1], ProxyProtocolMode.Any);
        Assert.Contains("no PROXY protocol header", reason);
        Assert.Contains("TLS handshake record", reason);
        Assert.Contains("'GET / HTTP/1.1\\r\\n'", Invalid(Ascii("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ProxyProtocolMode.V1));
        Assert.Contains("bytes 00FF", Invalid([0x00, 0xFF], ProxyProtocolMode.V2));
    }

    [Fact]
    public void A_header_of_the_other_version_is_refused_naming_the_setting()
    {
        Assert.Contains("v2 header, but this listener accepts v1 only", Invalid(V2Tcp4, ProxyProtocolMode.V1));
        Assert.Contains("v1 header, but this listener accepts v2 only", Invalid(Ascii("PROXY UNKNOWN\r\n"), ProxyProtocolMode.V2));
    }

    internal static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static byte[] V2(byte versionAndCommand, byte familyAndProtocol, byte[] block) =>
        [.. Signature, versionAndCommand, familyAndProtocol, (byte)(block.Length >> 8), (byte)block.Length, .. block];

    private static ProxyHeader Complete(byte[] data, ProxyProtocolMode mode)
    {
        var status = ProxyHeaderParser.TryParse(data, mode, out var header, out var error);
        Assert.True(status == ProxyParseStatus.Complete, $"{status}: {error}");
        return header!;
    }

    private static string Invalid(byte[] data, ProxyProtocolMode mode)
    {
        var status = ProxyHeaderParser.TryParse(data, mode, out _, out var error);
        Assert.Equal(ProxyParseStatus.Invalid, status);
        return error;
    }
}
