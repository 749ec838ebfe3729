namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>The bytes one side of a TCP connection sent, in sequence order, retransmissions counted once.</summary>
internal sealed record StreamDirection(int Stream, string From, byte[] Payload)
{
    public override string ToString() => $"tcp stream {Stream} from {From}";
}
