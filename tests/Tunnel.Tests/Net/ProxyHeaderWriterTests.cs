using System.Net;
using System.Net.Sockets;
using System.Text;
using Tunnel.Net.ProxyProtocol;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Net;

/// <summary>The headers tunnel-server writes to its upstream, byte for byte, and the reader that takes them off a
/// socket.</summary>
public sealed class ProxyHeaderWriterTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public void A_v1_header_is_the_specification_line()
    {
        var bytes = ProxyHeaderWriter.Build(ProxyProtocolVersion.V1, IPEndPoint.Parse("192.168.0.1:56324"), IPEndPoint.Parse("192.168.0.11:443"));
        Assert.Equal("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", Encoding.ASCII.GetString(bytes));

        var v6 = ProxyHeaderWriter.Build(ProxyProtocolVersion.V1, IPEndPoint.Parse("[2001:db8::1]:40000"), IPEndPoint.Parse("[2001:db8::2]:443"));
        Assert.Equal("PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n", Encoding.ASCII.GetString(v6));
    }

    [Fact]
    public void A_v2_header_is_the_specification_layout()
    {
        var bytes = ProxyHeaderWriter.Build(ProxyProtocolVersion.V2, IPEndPoint.Parse("192.168.0.1:56324"), IPEndPoint.Parse("192.168.0.11:443"));
        Assert.Equal("0D0A0D0A000D0A515549540A" + "21" + "11" + "000C" + "C0A80001" + "C0A8000B" + "DC04" + "01BB", Convert.ToHexString(bytes));

        var v6 = ProxyHeaderWriter.Build(ProxyProtocolVersion.V2, IPEndPoint.Parse("[2001:db8::1]:40000"), IPEndPoint.Parse("[2001:db8::2]:443"));
        Assert.Equal("0D0A0D0A000D0A515549540A" + "21" + "21" + "0024" + "20010DB8000000000000000000000001" + "20010DB8000000000000000000000002" + "9C40" + "01BB",
            Convert.ToHexString(v6));

        Assert.Equal("0D0A0D0A000D0A515549540A" + "20" + "00" + "0000", Convert.ToHexString(ProxyHeaderWriter.Local()));
    }

    [Fact]
    public void IPv4_clients_of_a_dual_stack_listener_are_written_as_IPv4_and_mixed_families_as_IPv6()
    {
        var mapped = ProxyHeaderWriter.Build(ProxyProtocolVersion.V1, IPEndPoint.Parse("[::ffff:198.51.100.7]:5000"), IPEndPoint.Parse("[::ffff:10.0.0.1]:443"));
        Assert.Equal("PROXY TCP4 198.51.100.7 10.0.0.1 5000 443\r\n", Encoding.ASCII.GetString(mapped));

        var mixed = ProxyHeaderWriter.Build(ProxyProtocolVersion.V1, IPEndPoint.Parse("198.51.100.7:5000"), IPEndPoint.Parse("[2001:db8::2]:443"));
        Assert.Equal("PROXY TCP6 ::ffff:198.51.100.7 2001:db8::2 5000 443\r\n", Encoding.ASCII.GetString(mixed));

        var scoped = ProxyHeaderWriter.Build(ProxyProtocolVersion.V1, IPEndPoint.Parse("[fe80::1%2]:5000"), IPEndPoint.Parse("[fe80::2%2]:443"));
        Assert.Equal("PROXY TCP6 fe80::1 fe80::2 5000 443\r\n", Encoding.ASCII.GetString(scoped));
    }

    [Theory]
    [InlineData(1, "203.0.113.9:1", "192.0.2.1:65535")]
    [InlineData(2, "203.0.113.9:1", "192.0.2.1:65535")]
    [InlineData(1, "[2001:db8:ffff::9]:0", "[::1]:443")]
    [InlineData(2, "[2001:db8:ffff::9]:0", "[::1]:443")]
    public void What_the_writer_writes_the_parser_reads_back(int versionNumber, string source, string destination)
    {
        var version = (ProxyProtocolVersion)versionNumber;
        var bytes = ProxyHeaderWriter.Build(version, IPEndPoint.Parse(source), IPEndPoint.Parse(destination));
        Assert.Equal(ProxyParseStatus.Complete, ProxyHeaderParser.TryParse(bytes, ProxyProtocolMode.Any, out var header, out _));
        Assert.Equal(version, header!.Version);
        Assert.Equal(IPEndPoint.Parse(source), header.Source);
        Assert.Equal(IPEndPoint.Parse(destination), header.Destination);
        Assert.Equal(bytes.Length, header.Length);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_reader_returns_the_header_and_hands_back_the_bytes_that_came_with_it()
    {
        var (client, server) = await ConnectedPairAsync();
        using (client)
        using (server)
        {
            await client.SendAsync(ProxyHeaderParserTests.Ascii("PROXY TCP4 198.51.100.7 10.0.0.1 5000 443\r\n\x16\x03\x01"), SocketFlags.None);

            var (header, following) = await ProxyHeaderReader.ReadAsync(server, ProxyProtocolMode.Any, CancellationToken.None).WaitAsync(Wait);

            Assert.Equal(IPEndPoint.Parse("198.51.100.7:5000"), header.Source);
            Assert.Equal("160301", Convert.ToHexString(following));
            await using var stream = new Tunnel.Net.PrefixedStream(following, new NetworkStream(server, ownsSocket: false));
            await client.SendAsync("more"u8.ToArray(), SocketFlags.None);
            var buffer = new byte[7];
            await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(Wait);
            Assert.Equal("\x16\x03\x01more", Encoding.Latin1.GetString(buffer));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task The_reader_waits_for_a_header_sent_in_pieces()
    {
        var (client, server) = await ConnectedPairAsync();
        using (client)
        using (server)
        {
            var header = ProxyHeaderWriter.Build(ProxyProtocolVersion.V2, IPEndPoint.Parse("[2001:db8::7]:5000"), IPEndPoint.Parse("[2001:db8::1]:443"));
            var reading = ProxyHeaderReader.ReadAsync(server, ProxyProtocolMode.V2, CancellationToken.None);
            await client.SendAsync(header.AsMemory(0, 10), SocketFlags.None);
            await client.SendAsync(header.AsMemory(10, 20), SocketFlags.None);
            Assert.False(reading.IsCompleted);
            await client.SendAsync(header.AsMemory(30), SocketFlags.None);

            var (parsed, following) = await reading.WaitAsync(Wait);
            Assert.Equal(IPEndPoint.Parse("[2001:db8::7]:5000"), parsed.Source);
            Assert.Empty(following);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task The_reader_refuses_garbage_and_a_connection_that_closes_mid_header()
    {
        var (client, server) = await ConnectedPairAsync();
        using (client)
        using (server)
        {
            await client.SendAsync("\x16\x03\x01"u8.ToArray(), SocketFlags.None);
            var error = await Assert.ThrowsAsync<ProxyHeaderException>(() => ProxyHeaderReader.ReadAsync(server, ProxyProtocolMode.Any, CancellationToken.None).WaitAsync(Wait));
            Assert.Contains("TLS handshake record", error.Message);
        }

        (client, server) = await ConnectedPairAsync();
        using (client)
        using (server)
        {
            await client.SendAsync("PROXY TCP4 1.2"u8.ToArray(), SocketFlags.None);
            client.Shutdown(SocketShutdown.Send);
            var error = await Assert.ThrowsAsync<ProxyHeaderException>(() => ProxyHeaderReader.ReadAsync(server, ProxyProtocolMode.Any, CancellationToken.None).WaitAsync(Wait));
            Assert.Contains("closed after 14 bytes", error.Message);
        }
    }

    private static async Task<(Socket Client, Socket Server)> ConnectedPairAsync()
    {
        var (client, server) = await LoopbackSockets.ConnectAsync();
        client.NoDelay = true;
        return (client, server);
    }
}
