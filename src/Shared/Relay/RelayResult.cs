using Tunnel.Common;
namespace Tunnel.Relay;

/// <summary>What a relay did: bytes each way and why it ended.</summary>
/// <param name="BytesUp">Bytes copied from the accepted side to the dialled side.</param>
/// <param name="BytesDown">Bytes copied from the dialled side to the accepted side.</param>
/// <param name="Reason">Why the connection ended.</param>
/// <param name="Error">The exception behind an error close, for debug logging.</param>
internal sealed record RelayResult(long BytesUp, long BytesDown, CloseOutcome Reason, Exception? Error = null);
