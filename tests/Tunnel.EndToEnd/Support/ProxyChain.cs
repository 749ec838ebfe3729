using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support;

/// <summary>The product's deployment on one machine, every hop a real process on 127.0.0.1:
/// curl → inner Squid (cache_peer parent) → tunnel-client ══ mTLS ══ tunnel-server → outer Squid → nginx.
/// Started from the far end inwards, so that each hop is listening before the one in front of it starts (an inner
/// Squid that finds its parent closed marks it dead, ecosystem.md B3.3). Disposing stops everything by PID.</summary>
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

    private ProxyChain(Sandbox sandbox, TestPki pki, ITestOutputHelper output)
    {
        Sandbox = sandbox;
        Pki = pki;
        _output = output;
    }

    public Sandbox Sandbox { get; }

    public TestPki Pki { get; }

    public NginxTarget Target { get; private set; } = null!;

    public SquidProcess Outer { get; private set; } = null!;

    public TunnelProcess Server { get; private set; } = null!;

    public TunnelProcess Client { get; private set; } = null!;

    public SquidProcess Inner { get; private set; } = null!;

    /// <summary>Starts the chain. <paramref name="outerPolicy"/> adds access rules to the outer Squid (it may write
    /// files into the sandbox first); <paramref name="passCredentials"/> makes the inner Squid forward the user's
    /// proxy credentials (login=PASSTHRU).</summary>
    public static async Task<ProxyChain> StartAsync(string name, ITestOutputHelper output, CancellationToken deadline,
        Func<Sandbox, IEnumerable<string>>? outerPolicy = null, bool passCredentials = false)
    {
        RequiredTool.CheckChainTools();
        var binaries = await PublishedBinaries.GetAsync();
        var chain = new ProxyChain(new Sandbox(name), new TestPki("E2E Tunnel CA"), output);
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
        Target = Started(await NginxTarget.StartAsync(Sandbox, _output, deadline));

        var hosts = Sandbox.WriteText("outer-hosts", $"127.0.0.1 {NginxTarget.HostName} {OtherHostName}\n");
        var policy = SquidConfig.Outer(hosts).Concat(outerPolicy?.Invoke(Sandbox) ?? []);
        Outer = Started(await SquidProcess.StartAsync(Sandbox, "outer", policy, _output, deadline));

        Server = Started(await TunnelProcess.StartServerAsync(binaries, Outer.Address, Pki.IssueServer(ServerName), Pki.CaPath, _output, deadline));
        Client = Started(await TunnelProcess.StartClientAsync(binaries, Server.Address, ServerName, Pki.IssueClient(ClientName), Pki.CaPath,
            _output, deadline));

        Inner = Started(await SquidProcess.StartAsync(Sandbox, "inner", SquidConfig.Inner(Client.Port, passCredentials), _output, deadline));
    }

    /// <summary>curl through the inner Squid, trusting the target's CA.</summary>
    public Task<CurlResult> CurlAsync(CancellationToken deadline, params string[] arguments) =>
        Curl.RunAsync(Sandbox, ["--proxy", Inner.ProxyUrl, "--cacert", Target.CaPath, .. arguments], _output, deadline);

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
