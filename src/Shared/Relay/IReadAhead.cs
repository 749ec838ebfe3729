namespace Tunnel.Relay;

/// <summary>A stream that can tell when its next read will return data without waiting for the network, so the relay
/// can gather what has already arrived into one write.</summary>
internal interface IReadAhead
{
    bool MoreIsHere { get; }
}
