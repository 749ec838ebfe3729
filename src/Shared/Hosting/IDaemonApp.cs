namespace Tunnel.Hosting;

/// <summary>A built daemon, ready to run: what the program and in-process tests start and stop.</summary>
internal interface IDaemonApp<in TOptions> : IAsyncDisposable
{
    DaemonHost Host { get; }

    /// <summary>Applies a re-read configuration (SIGHUP): each tunnel takes its new TLS policy (certificate, key, CA,
    /// CRL, allow-list, pins, SNI) and reloads its files; settings that need a restart are logged, not applied.
    /// True when every tunnel's new material is in effect.</summary>
    bool Reload(TOptions options);
}
