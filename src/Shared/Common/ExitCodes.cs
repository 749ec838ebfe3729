namespace Tunnel.Common;

/// <summary>Process exit codes of tunnel-client and tunnel-server (documented in docs/configuration.md).</summary>
internal static class ExitCodes
{
    /// <summary>Clean exit: stopped by a signal and every connection drained, or a command succeeded.</summary>
    public const int Ok = 0;

    /// <summary>Connections were cut because the drain timeout expired, a check failed (diagnose), or an
    /// unexpected error occurred.</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong (unknown flag, missing value).</summary>
    public const int Usage = 2;

    /// <summary>The configuration or the certificate material it names is invalid; nothing was started.</summary>
    public const int Config = 3;

    /// <summary>The configuration is valid but the daemon could not start (address in use, permission denied).</summary>
    public const int Startup = 4;
}
