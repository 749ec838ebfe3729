namespace Tunnel.Relay;

/// <summary>Why a relayed connection ended; logged once per connection and counted in metrics.</summary>
internal enum CloseReason
{
    /// <summary>Both directions reached end of stream.</summary>
    Done,

    /// <summary>The accepted side reset the connection or failed while reading.</summary>
    ClientError,

    /// <summary>The dialled side reset the connection or failed while reading.</summary>
    UpstreamError,

    /// <summary>No byte moved in either direction for the idle timeout.</summary>
    IdleTimeout,

    /// <summary>After one side half-closed, the other did not finish within the close timeout.</summary>
    CloseTimeout,

    /// <summary>The connection reached its maximum lifetime.</summary>
    MaxLifetime,

    /// <summary>The process was shutting down and the drain timeout expired.</summary>
    Shutdown,

    /// <summary>The process was draining and the connection was idle, so both sides were closed gracefully.</summary>
    Drained,
}
