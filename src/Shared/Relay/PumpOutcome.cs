namespace Tunnel.Relay;

/// <summary>The result of one direction of a relay: how it ended, how many bytes it moved and, for an error, the
/// exception that ended it (kept for classification and debug logging; never rethrown).</summary>
internal readonly record struct PumpOutcome(PumpResult Result, long Bytes, Exception? Error = null);
