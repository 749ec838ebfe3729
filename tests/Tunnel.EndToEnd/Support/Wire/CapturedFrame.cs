namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>One frame of a capture as the firewall sees it: EtherType, and for IPv4 the addresses, protocol number,
/// ports (TCP or UDP), tshark's TCP stream index and the TCP payload length; <paramref name="Protocols"/> is tshark's
/// frame.protocols ("eth:ethertype:ip:tcp:tls").</summary>
internal sealed record CapturedFrame(int Number, string EtherType, string Source, string Destination, string IpProtocol, int? SourcePort,
    int? DestinationPort, int? Stream, int TcpLength, string Protocols)
{
    public const string Arp = "0x0806";
    public const string Ipv4 = "0x0800";
    public const string Tcp = "6";

    public bool IsIpv4 => EtherType == Ipv4;

    public override string ToString() =>
        IsIpv4 ? $"#{Number} {Source}:{SourcePort} -> {Destination}:{DestinationPort} proto {IpProtocol} len {TcpLength} [{Protocols}]"
            : $"#{Number} ethertype {EtherType} [{Protocols}]";
}
