using System.Net;
using System.Net.Sockets;
using ClientApp = Tunnel.Hosting.DaemonApp<Tunnel.Client.Options.ClientOptions, Tunnel.Client.Options.ClientTunnelOptions, Tunnel.Client.ClientTunnel>;
using ServerApp = Tunnel.Hosting.DaemonApp<Tunnel.Server.Options.ServerOptions, Tunnel.Server.Options.ServerTunnelOptions, Tunnel.Server.ServerTunnel>;

namespace Tunnel.Tests.Support;

/// <summary>An in-process tunnel-server and tunnel-client on loopback (port 0), with certificates from a
/// <see cref="TestPki"/>, in front of a given upstream. Both apps are the real composition roots the programs use.</summary>
internal sealed class TunnelHarness : IAsyncDisposable
{
    private Task<int>? _serverRun;
    private Task<int>? _clientRun;

    private TunnelHarness(TestPki pki, LogCollector logs)
    {
        Pki = pki;
        Logs = logs;
    }

    public TestPki Pki { get; }

    public LogCollector Logs { get; }

    public ServerApp Server { get; private set; } = null!;

    public ClientApp? Client { get; private set; }

    public IPEndPoint ServerEndPoint => Server.Tunnels[0].LocalEndPoint;

    public IPEndPoint ClientEndPoint => Client!.Tunnels[0].LocalEndPoint;

    public (string Cert, string Key) ServerCertificate { get; private set; }

    public (string Cert, string Key) ClientCertificate { get; private set; }

    /// <summary>The server's settings by configuration key; <see cref="ReloadServer"/> re-applies them.</summary>
    public Dictionary<string, string> ServerValues { get; private set; } = [];

    public Dictionary<string, string> ClientValues { get; private set; } = [];

    /// <summary>What SIGHUP does: re-read the (changed) settings and reload every tunnel's TLS policy.</summary>
    public bool ReloadServer(Action<Dictionary<string, string>>? change = null)
    {
        change?.Invoke(ServerValues);
        return Server.Reload(TestOptions.Server(ServerValues));
    }

    public bool ReloadClient(Action<Dictionary<string, string>>? change = null)
    {
        change?.Invoke(ClientValues);
        return Client!.Reload(TestOptions.Client(ClientValues));
    }

    /// <summary>Starts a server (and, unless <paramref name="withClient"/> is false, a client in front of it).
    /// <paramref name="server"/> and <paramref name="client"/> add or override settings by configuration key.</summary>
    public static async Task<TunnelHarness> StartAsync(TestPki pki, LogCollector logs, string upstream,
        Action<Dictionary<string, string>>? server = null, Action<Dictionary<string, string>>? client = null, bool withClient = true)
    {
        var harness = new TunnelHarness(pki, logs);
        harness.ServerCertificate = pki.IssueServer();
        harness.ClientCertificate = pki.IssueClient();

        var serverValues = new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["upstreams"] = upstream,
            ["cert"] = harness.ServerCertificate.Cert,
            ["key"] = harness.ServerCertificate.Key,
            ["ca"] = pki.CaPath,
            ["shutdownTimeout"] = "5s",
            ["watchInterval"] = "0",
            // Probes would show up as upstream connections; the balancing tests turn them on.
            ["upstreamHealthCheckInterval"] = "0",
        };
        server?.Invoke(serverValues);
        harness.ServerValues = serverValues;
        harness.Server = Tunnel.Server.ServerApp.Create(TestOptions.Server(serverValues), logs, TimeProvider.System);
        harness._serverRun = OffTestContext(harness.Server.Host.RunAsync);
        await harness.Server.Host.Bound.WaitAsync(TimeSpan.FromSeconds(10));

        if (withClient)
        {
            var clientValues = new Dictionary<string, string>
            {
                ["listen"] = "127.0.0.1:0",
                ["servers"] = $"127.0.0.1:{harness.ServerEndPoint.Port}",
                ["serverName"] = "tunnel.test",
                ["cert"] = harness.ClientCertificate.Cert,
                ["key"] = harness.ClientCertificate.Key,
                ["ca"] = pki.CaPath,
                ["shutdownTimeout"] = "5s",
                ["watchInterval"] = "0",
                ["healthCheckInterval"] = "0",
                // Pooled connections would show up on the server; the pool tests turn it on.
                ["poolSize"] = "0",
            };
            client?.Invoke(clientValues);
            harness.ClientValues = clientValues;
            harness.Client = Tunnel.Client.ClientApp.Create(TestOptions.Client(clientValues), logs, TimeProvider.System);
            harness._clientRun = OffTestContext(harness.Client.Host.RunAsync);
            await harness.Client.Host.Bound.WaitAsync(TimeSpan.FromSeconds(10));
        }

        return harness;
    }

    /// <summary>Runs a daemon on the thread pool, as in production. Started from a test, its continuations would
    /// otherwise go to xunit's synchronization context, which runs every parallel test class's on as many threads as
    /// there are cores: one test's 64 MiB flood then stalls another's TLS handshake for seconds.</summary>
    private static Task<int> OffTestContext(Func<Task<int>> run) => Task.Run(run);

    /// <summary>A plain TCP connection to the client's listener, as Squid would open.</summary>
    public async Task<Socket> ConnectClientAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(ClientEndPoint);
        return socket;
    }

    /// <summary>Stops the server (as SIGTERM, unless a stop was already requested) and returns its exit code.</summary>
    public async Task<int> StopServerAsync()
    {
        if (!Server.Host.StopRequested)
        {
            Server.Host.RequestStop();
        }

        return await _serverRun!.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task<int> StopClientAsync()
    {
        if (!Client!.Host.StopRequested)
        {
            Client.Host.RequestStop();
        }

        return await _clientRun!.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        if (Client is not null)
        {
            if (!_clientRun!.IsCompleted)
            {
                Client.Host.RequestStop();
                Client.Host.RequestStop();
            }

            await _clientRun.WaitAsync(TimeSpan.FromSeconds(30));
            await Client.DisposeAsync();
        }

        if (!_serverRun!.IsCompleted)
        {
            Server.Host.RequestStop();
            Server.Host.RequestStop();
        }

        await _serverRun.WaitAsync(TimeSpan.FromSeconds(30));
        await Server.DisposeAsync();
    }
}
