using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Tunnel.Tls;

/// <summary>OpenSSL's system certificate store (<c>SSL_CERT_FILE</c> and <c>SSL_CERT_DIR</c>; /etc/ssl/certs on
/// Debian), which .NET reads whole, decoding every certificate in it, the first time the process builds a chain: to
/// find the intermediates of the daemon's own certificate as it loads, before it listens. On Debian that is about 290
/// certificates (the directory and ca-certificates.crt hold the same ones) and was most of a daemon's start-up: the
/// Native AOT tunnel-server listened 110 ms after exec with it, 30 ms without (<c>bench/footprint.sh</c>,
/// docs/operations.md "Footprint"). When every tunnel verifies its peer against a CA file of its own, nothing reads the
/// store, so the process points OpenSSL's two variables at nothing before the first chain is built. A tunnel-client
/// tunnel without <c>ca</c> (a server with a public certificate) needs it, and then it loads as before.</summary>
/// <remarks>.NET reads the two variables with the C library's getenv, which
/// <see cref="Environment.SetEnvironmentVariable(string, string?)"/> does not change on Linux, hence setenv.</remarks>
internal static partial class SystemTrustStore
{
    /// <summary>True once the process was pointed at no system store.</summary>
    public static bool Skipped { get; private set; }

    /// <summary>Leaves the system store unread unless <paramref name="needed"/>. Call before the process builds its
    /// first chain (before loading certificates); later calls change nothing.</summary>
    public static void SkipUnlessNeeded(bool needed)
    {
        if (needed || Skipped || !OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            Skipped = SetEnv("SSL_CERT_FILE", "", 1) == 0 && SetEnv("SSL_CERT_DIR", "", 1) == 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: the store loads as before.
        }
    }

    /// <summary>Logs, at start-up, that the store was left unread.</summary>
    public static void LogStatus(ILogger logger)
    {
        if (Skipped)
        {
            LogSkipped(logger);
        }
    }

    [DllImport("libc.so.6", EntryPoint = "setenv", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetEnv(string name, string value, int overwrite);

    [LoggerMessage(EventId = 203, EventName = "SystemTrustStoreSkipped", Level = LogLevel.Information,
        Message = "the system certificate store is not loaded: every tunnel verifies its peer against its own ca file")]
    private static partial void LogSkipped(ILogger logger);
}
