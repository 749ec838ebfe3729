using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>The product chain deployed across a <see cref="FirewalledNetwork"/>: curl, the inner Squid and
/// tunnel-client in the site; tunnel-server on the cloud address port 443, the outer Squid and an nginx target with a
/// distinctive name in the cloud; the firewall capturing on both of its interfaces from before the first daemon
/// starts. The target's name is resolved only by the outer Squid's hosts_file, in the cloud.</summary>
internal sealed class FirewalledChain : IAsyncDisposable
{
    /// <summary>The target's name: in its certificate, in every CONNECT line and URL, and nowhere on the firewall.</summary>
    public const string TargetHostName = "secret-target-7f3a.example";

    /// <summary>The name in tunnel-server's certificate, verified by tunnel-client and never sent as SNI here.</summary>
    public const string ServerName = "tunnel.cloud.internal";

    private readonly ITestOutputHelper _output;
    private PacketCapture? _siteFacing;
    private PacketCapture? _cloudFacing;
    private int _captures;

    private FirewalledChain(FirewalledNetwork network, ITestOutputHelper output)
    {
        Network = network;
        _output = output;
    }

    public FirewalledNetwork Network { get; }

    public ProxyChain Chain { get; private set; } = null!;

    public NginxTarget Target => Chain.Target;

    /// <summary>Builds the network, starts capturing, then starts the chain with <paramref name="clientArguments"/>.
    /// <paramref name="innerSquidUsesSystemResolver"/>: see <see cref="ChainOptions.InnerSquidUsesSystemResolver"/>.</summary>
    public static async Task<FirewalledChain> StartAsync(string name, IReadOnlyList<string> clientArguments, ITestOutputHelper output,
        CancellationToken deadline, bool innerSquidUsesSystemResolver = false)
    {
        var network = await FirewalledNetwork.CreateAsync(output, deadline);
        var result = new FirewalledChain(network, output);
        try
        {
            await result.StartCapturesAsync(deadline);
            result.Chain = await ProxyChain.StartAsync(name, output, deadline, options: new ChainOptions
            {
                Network = network,
                TargetHostName = TargetHostName,
                ServerName = ServerName,
                ClientArguments = clientArguments,
                InnerSquidUsesSystemResolver = innerSquidUsesSystemResolver,
            });
            return result;
        }
        catch
        {
            await result.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts a fresh pair of captures (site-facing and cloud-facing interfaces of the firewall).</summary>
    public async Task StartCapturesAsync(CancellationToken deadline)
    {
        if (_siteFacing is not null || _cloudFacing is not null)
        {
            throw new InvalidOperationException("the previous captures are still running");
        }

        var n = ++_captures;
        var folder = Path.Combine(Path.GetTempPath(), $"tunnel-e2e-capture-{Network.Tag}");
        Directory.CreateDirectory(folder);
        _siteFacing = await Network.CaptureAsync(Network.SiteFacingInterface, Path.Combine(folder, $"{n}-site-facing.pcap"), deadline);
        _cloudFacing = await Network.CaptureAsync(Network.CloudFacingInterface, Path.Combine(folder, $"{n}-cloud-facing.pcap"), deadline);
    }

    /// <summary>Stops both captures and reads them: what the firewall received from the site (dropped or forwarded),
    /// and what crossed to the cloud.</summary>
    public async Task<(FirewallView SiteFacing, FirewallView CloudFacing)> StopCapturesAsync(CancellationToken deadline)
    {
        var siteFacing = _siteFacing ?? throw new InvalidOperationException("no capture running");
        var cloudFacing = _cloudFacing!;
        string sitePath, cloudPath;
        try
        {
            sitePath = await siteFacing.StopAsync(deadline);
            cloudPath = await cloudFacing.StopAsync(deadline);
        }
        finally
        {
            _siteFacing = _cloudFacing = null;
            await siteFacing.DisposeAsync();
            await cloudFacing.DisposeAsync();
        }

        var views = (await FirewallView.ReadAsync("site-facing", sitePath, _output, deadline),
            await FirewallView.ReadAsync("cloud-facing", cloudPath, _output, deadline));
        _output.WriteLine(views.Item1.DescribeFlows());
        _output.WriteLine(views.Item2.DescribeFlows());
        return views;
    }

    public Task<CurlResult> CurlAsync(CancellationToken deadline, params string[] arguments) => Chain.CurlAsync(deadline, arguments);

    public async ValueTask DisposeAsync()
    {
        // Processes first: a namespace lives on while a process is inside it.
        if (Chain is not null)
        {
            await Chain.DisposeAsync();
        }

        foreach (var capture in new[] { _siteFacing, _cloudFacing })
        {
            if (capture is not null)
            {
                await capture.DisposeAsync();
            }
        }

        var captures = Path.Combine(Path.GetTempPath(), $"tunnel-e2e-capture-{Network.Tag}");
        if (Environment.GetEnvironmentVariable("TUNNEL_E2E_KEEP") != "1" && Directory.Exists(captures))
        {
            Directory.Delete(captures, recursive: true);
        }

        await Network.DisposeAsync();
    }
}
