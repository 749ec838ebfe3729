namespace Tunnel.Relay;

/// <summary>How one direction of a relay ended. Errors are values here: no exception crosses between the two
/// directions of a connection.</summary>
internal enum PumpResult
{
    /// <summary>The input reached end of stream and every byte read was written.</summary>
    Success,

    /// <summary>Reading the input failed (reset, TLS error, socket error).</summary>
    InputError,

    /// <summary>Writing the output failed.</summary>
    OutputError,

    /// <summary>The copy was cancelled (timeout, shutdown, or the other direction failed).</summary>
    Canceled,
}
