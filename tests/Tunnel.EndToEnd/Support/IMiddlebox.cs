namespace Tunnel.EndToEnd.Support;

/// <summary>Something a test puts on the path between tunnel-client and tunnel-server, such as a TLS-intercepting
/// firewall: tunnel-client dials <see cref="Address"/> instead of the server's own.</summary>
internal interface IMiddlebox : IAsyncDisposable
{
    /// <summary>host:port tunnel-client is pointed at.</summary>
    string Address { get; }
}
