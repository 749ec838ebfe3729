using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tunnel.Net.ProxyProtocol;

/// <summary>Builds the PROXY protocol header a sender writes first on a connection, so the receiver (Squid with
/// <c>require-proxy-header</c>, HAProxy with <c>accept-proxy</c>, nginx with <c>proxy_protocol</c>) learns who the
/// client really is.</summary>
internal static class ProxyHeaderWriter
{
    /// <summary>The header for a relayed connection from <paramref name="source"/> to <paramref name="destination"/>.
    /// IPv4-mapped IPv6 addresses (what a dual-stack listener reports for IPv4 clients) are written as IPv4; when one
    /// side is IPv4 and the other IPv6, the IPv4 one is mapped, since a header carries one family.</summary>
    public static byte[] Build(ProxyProtocolVersion version, IPEndPoint source, IPEndPoint destination)
    {
        var (from, to) = SameFamily(source.Address, destination.Address);
        return version switch
        {
            ProxyProtocolVersion.V1 => V1(from, source.Port, to, destination.Port),
            ProxyProtocolVersion.V2 => V2(from, source.Port, to, destination.Port),
            _ => throw new ArgumentOutOfRangeException(nameof(version)),
        };
    }

    /// <summary>A v2 LOCAL header: the connection is the sender's own (a health check), not a relayed client's.</summary>
    public static byte[] Local()
    {
        var header = new byte[ProxyHeaderParser.V2FixedLength];
        ProxyHeaderParser.V2Signature.CopyTo(header);
        header[12] = 0x20;
        return header;
    }

    private static byte[] V1(IPAddress source, int sourcePort, IPAddress destination, int destinationPort)
    {
        var protocol = source.AddressFamily == AddressFamily.InterNetwork ? "TCP4" : "TCP6";
        return Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"PROXY {protocol} {source} {destination} {sourcePort} {destinationPort}\r\n"));
    }

    private static byte[] V2(IPAddress source, int sourcePort, IPAddress destination, int destinationPort)
    {
        var v4 = source.AddressFamily == AddressFamily.InterNetwork;
        var size = v4 ? 4 : 16;
        var header = new byte[ProxyHeaderParser.V2FixedLength + 2 * size + 4];
        ProxyHeaderParser.V2Signature.CopyTo(header);
        header[12] = 0x21; // version 2, PROXY
        header[13] = v4 ? (byte)0x11 : (byte)0x21; // TCP over IPv4 or IPv6
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)(2 * size + 4));
        var block = header.AsSpan(ProxyHeaderParser.V2FixedLength);
        source.TryWriteBytes(block, out _);
        destination.TryWriteBytes(block[size..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(block[(2 * size)..], (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(block[(2 * size + 2)..], (ushort)destinationPort);
        return header;
    }

    private static (IPAddress Source, IPAddress Destination) SameFamily(IPAddress source, IPAddress destination)
    {
        source = Plain(source);
        destination = Plain(destination);
        if (source.AddressFamily == destination.AddressFamily)
        {
            return (source, destination);
        }

        return (source.MapToIPv6(), destination.MapToIPv6());
    }

    /// <summary>IPv4 for IPv4-mapped addresses; no scope id (a header has no room for "%eth0").</summary>
    private static IPAddress Plain(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4()
        : address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0 ? new IPAddress(address.GetAddressBytes())
        : address;
}
