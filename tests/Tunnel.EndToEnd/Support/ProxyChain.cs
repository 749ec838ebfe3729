using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support;

/// <summary>The product's deployment on one machine, every hop a real process on 127.0.0.1:
/// curl → inner Squid (cache_peer parent) → tunnel-client ══ mTLS ══ tunnel-server → outer Squid → nginx.
/// Started from the far end inwards, so that each hop is listening before the one in front of it starts (an inner
/// Squid that finds its parent closed marks it dead, ecosystem.md B3.3). <see cref="ChainOptions"/> can move the hops
/// into site and cloud network namespaces behind a firewall, put a middlebox between tunnel-client and tunnel-server,
/// and rename the target and the server. Disposing stops everything by PID.</summary>
internal sealed class ProxyChain : IAsyncDisposable
{
    /// <summary>The client certificate's CN: the identity tunnel-server logs for each connection.</summary>
    public const string ClientName = "e2e-site";

    /// <summary>The name in tunnel-server's certificate, which tunnel-client verifies.</summary>
    public const string ServerName = "tunnel.test";

    /// <summary>A second name the outer Squid resolves to the target, for policies about one domain.</summary>
    public const string OtherHostName = "blocked.e2e.test";

    private readonly ITestOutputHelper _output;
    private readonly List<IAsyncDisposable> _started = [];

    private ProxyChain(Sandbox sandbox, TestPki pki, ChainOptions options, ITestOutputHelper output)
    {
        Sandbox = sandbox;
        Pki = pki;
        Options = options;
        _output = output;
    }

    public Sandbox Sandbox { get; }

    public ChainOptions Options { get; }

    public TestPki Pki { get; }

    public NginxTarget Target { get; private set; } = null!;

    public SquidProcess Outer { get; private set; } = null!;

    public TunnelProcess Server { get; private set; } = null!;

    public TunnelProcess Client { get; private set; } = null!;

    public SquidProcess Inner { get; private set; } = null!;

    /// <summary>The middlebox between tunnel-client and tunnel-server, when the options asked for one.</summary>
    public IMiddlebox? Middlebox { get; private set; }

    /// <summary>Starts the chain. <paramref name="outerPolicy"/> adds access rules to the outer Squid (it may write
    /// files into the sandbox first); <paramref name="passCredentials"/> makes the inner Squid forward the user's
    /// proxy credentials (login=PASSTHRU).</summary>
    public static async Task<ProxyChain> StartAsync(string name, ITestOutputHelper output, CancellationToken deadline,
        Func<Sandbox, IEnumerable<string>>? outerPolicy = null, bool passCredentials = false, ChainOptions? options = null)
    {
        RequiredTool.CheckChainTools();
        var binaries = await PublishedBinaries.GetAsync();
        var chain = new ProxyChain(new Sandbox(name), new TestPki("E2E Tunnel CA"), options ?? new ChainOptions(), output);
        try
        {
            await chain.StartPartsAsync(binaries, outerPolicy, passCredentials, deadline);
            return chain;
        }
        catch
        {
            await chain.DisposeAsync();
            throw;
        }
    }

    private async Task StartPartsAsync(PublishedBinaries binaries, Func<Sandbox, IEnumerable<string>>? outerPolicy, bool passCredentials,
        CancellationToken deadline)
    {
        var cloud = Options.Network?.Cloud ?? NetworkNamespace.Own;
        var site = Options.Network?.Site ?? NetworkNamespace.Own;
        Target = Started(await NginxTarget.StartAsync(Sandbox, _output, deadline, Options.TargetHostName, cloud));

        var hosts = Sandbox.WriteText("outer-hosts", $"127.0.0.1 {Target.Host} {OtherHostName}\n");
        var policy = SquidConfig.Outer(hosts).Concat(outerPolicy?.Invoke(Sandbox) ?? []);
        Outer = Started(await SquidProcess.StartAsync(Sandbox, "outer", policy, _output, deadline, cloud));

        var (serverCert, serverKey) = Pki.IssueServer(Options.ServerName);
        var serverListen = Options.Network?.TunnelEndpoint.ToString() ?? "127.0.0.1:0";
        Server = Started(await TunnelProcess.StartAsync(binaries, "tunnel-server",
            ["--listen", serverListen, "--upstream", Outer.Address, "--cert", serverCert, "--key", serverKey, "--ca", Pki.CaPath], _output, deadline, cloud));

        if (Options.Middlebox is { } middlebox)
        {
            Middlebox = Started(await middlebox(Sandbox, Server.Address, deadline));
        }

        var (clientCert, clientKey) = Pki.IssueClient(ClientName);
        Client = Started(await TunnelProcess.StartAsync(binaries, "tunnel-client",
            ["--listen", "127.0.0.1:0", "--server", Middlebox?.Address ?? Server.Address, "--server-name", Options.ServerName, "--cert", clientCert,
                "--key", clientKey, "--ca", Pki.CaPath, .. Options.ClientArguments], _output, deadline, site));

        var inner = SquidConfig.Inner(Client.Port, passCredentials, Options.InnerSquidUsesSystemResolver);
        Inner = Started(await SquidProcess.StartAsync(Sandbox, "inner", inner, _output, deadline, site));
    }

    /// <summary>curl through the inner Squid (in the site namespace, when there is one), trusting the target's CA.</summary>
    public Task<CurlResult> CurlAsync(CancellationToken deadline, params string[] arguments) =>
        Curl.RunAsync(Sandbox, ["--proxy", Inner.ProxyUrl, "--cacert", Target.CaPath, .. arguments], _output, deadline, Options.Network?.Site);

    private T Started<T>(T part)
        where T : IAsyncDisposable
    {
        _started.Add(part);
        return part;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _started.Count - 1; i >= 0; i--)
        {
            await _started[i].DisposeAsync();
        }

        Pki.Dispose();
        Sandbox.Dispose();
    }
}
