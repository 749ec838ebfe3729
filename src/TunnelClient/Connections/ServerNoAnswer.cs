using Tunnel.Net;

namespace Tunnel.Client.Connections;

/// <summary>Why a tunnel carrying a proxy request ended before any answer, for the 502 the user gets instead.</summary>
internal static class ServerNoAnswer
{
    /// <summary>The reason for <see cref="Http.FirstResponseGuard"/>: null when the tunnel ended without a byte.</summary>
    public static Func<Exception?, string> For(string server) => ex => ex switch
    {
        null => ClosedWithoutAnswer(server),
        Mux.MuxStreamResetException => $"tunnel-server {server}: {ex.Message}",
        _ when IsTimeout(ex) => $"tunnel-server {server} stopped acknowledging data (the path went silent: a firewall or NAT " +
            "dropping the flow); the next connection will use another path or report the server down",
        _ when SocketErrors.IsRoutine(ex) => ClosedWithoutAnswer(server),
        _ => $"tunnel to tunnel-server {server} failed before the upstream proxy answered: {SocketErrors.Describe(ex)}",
    };

    /// <summary>tunnel-server refuses a client certificate by closing without an alert (nothing for a prober to
    /// fingerprint); an upstream proxy that closes without answering gets its own 502 from tunnel-server. So an early
    /// close is most often a refused certificate.</summary>
    private static string ClosedWithoutAnswer(string server) =>
        $"tunnel-server {server} closed the tunnel without answering: it does this when it refuses the client certificate " +
        "(check this client's certificate, its CA and the server's allow-list; the server log names the reason)";

    private static bool IsTimeout(Exception ex) => ex switch
    {
        System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.TimedOut } => true,
        { InnerException: { } inner } => IsTimeout(inner),
        _ => false,
    };
}
