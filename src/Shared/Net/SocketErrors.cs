using System.Net.Sockets;
using System.Security.Authentication;

namespace Tunnel.Net;

/// <summary>The one place that decides which socket errors are routine (a peer went away) and which deserve an
/// operator's attention, and how to describe them in a log line.</summary>
internal static class SocketErrors
{
    /// <summary>True when the error is a peer closing or resetting: logged at Debug, never as an error.</summary>
    public static bool IsRoutine(Exception? ex) => ex switch
    {
        null => true,
        OperationCanceledException => true,
        ObjectDisposedException => true,
        SocketException se => IsRoutine(se.SocketErrorCode),
        IOException { InnerException: { } inner } => IsRoutine(inner),
        IOException => true, // SslStream reports a peer's unexpected EOF as a bare IOException.
        _ => false,
    };

    public static bool IsRoutine(SocketError error) => error is
        SocketError.ConnectionReset or
        SocketError.ConnectionAborted or
        SocketError.Shutdown or
        SocketError.OperationAborted or
        SocketError.Interrupted or
        SocketError.NotConnected or
        SocketError.TimedOut;

    /// <summary>True for accept() failures caused by resource exhaustion (EMFILE, ENFILE, ENOBUFS, ENOMEM), after
    /// which the listener backs off instead of spinning.</summary>
    public static bool IsResourceExhaustion(SocketException ex) => ex.SocketErrorCode is
        SocketError.TooManyOpenSockets or
        SocketError.NoBufferSpaceAvailable ||
        ex.NativeErrorCode is 23 /* ENFILE */ or 12 /* ENOMEM */ or 24 /* EMFILE */;

    /// <summary>A short, lower-case description for log lines and error responses.</summary>
    public static string Describe(Exception? ex) => ex switch
    {
        null => "none",
        OperationCanceledException => "canceled",
        SocketException se => Describe(se.SocketErrorCode),
        AuthenticationException ae => "tls: " + Sentence(ae.InnerException?.Message ?? ae.Message),
        IOException { InnerException: SocketException se } => Describe(se.SocketErrorCode),
        IOException { InnerException: { } inner } => Describe(inner),
        _ => Sentence(ex.Message),
    };

    public static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionReset => "connection reset by peer",
        SocketError.ConnectionAborted => "connection aborted",
        SocketError.ConnectionRefused => "connection refused",
        SocketError.TimedOut => "timed out",
        SocketError.HostNotFound => "host not found",
        SocketError.TryAgain => "name resolution failed temporarily",
        SocketError.NoData => "host has no address",
        SocketError.NetworkUnreachable => "network unreachable",
        SocketError.HostUnreachable => "host unreachable",
        SocketError.AddressAlreadyInUse => "address already in use",
        SocketError.AddressNotAvailable => "address not available on this host",
        SocketError.AccessDenied => "permission denied",
        SocketError.Shutdown => "connection shut down",
        SocketError.TooManyOpenSockets => "too many open files",
        _ => error.ToString(),
    };

    private static string Sentence(string message) => message.TrimEnd('.');
}
