namespace Tunnel.Hosting;

/// <summary>One configured tunnel in a daemon: a listener and what it does with each connection.</summary>
internal interface ITunnelService : Admin.IReadinessSource, IAsyncDisposable
{
    string Name { get; }

    /// <summary>Binds the listener. Throws <see cref="Net.StartupException"/> when it cannot.</summary>
    void Bind();

    /// <summary>Accepts connections until <paramref name="stopAccepting"/> fires.</summary>
    Task RunAsync(CancellationToken stopAccepting);
}
