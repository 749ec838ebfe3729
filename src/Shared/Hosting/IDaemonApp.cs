namespace Tunnel.Hosting;

/// <summary>A built daemon, ready to run: what the program and in-process tests start and stop.</summary>
internal interface IDaemonApp : IDisposable
{
    DaemonHost Host { get; }

    /// <summary>Reloads every tunnel's TLS material (SIGHUP); true when all of it is in effect.</summary>
    bool Reload();
}
