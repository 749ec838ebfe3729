using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>A site and a cloud network namespace joined by one veth pair on one /24: tunnel-client (and the test's
/// connections to it) in the site, a fleet of tunnel-servers in the cloud, each on an address of its own.
/// <see cref="BlackholeAsync"/> makes the cloud drop, with nftables, every packet sent to one of those addresses: as a
/// host that froze, or a path that lost its way, looks from the client, SYNs and data go unanswered (no RST, no ICMP),
/// so only timeouts tell. Names carry a random tag per instance, so tests run in parallel; disposal deletes both
/// namespaces, and with them the veths and rules (stop the processes inside first).</summary>
internal sealed partial class SiteAndCloudNetwork : IAsyncDisposable
{
    private const string Table = "tunnel_e2e";

    private readonly ITestOutputHelper _output;
    private readonly List<string> _created = [];

    private SiteAndCloudNetwork(string tag, string prefix, int cloudAddresses, ITestOutputHelper output)
    {
        _output = output;
        Site = NetworkNamespace.Named($"{tag}-site");
        Cloud = NetworkNamespace.Named($"{tag}-cloud");
        SiteInterface = $"{tag}-s";
        CloudInterface = $"{tag}-c";
        SiteAddress = IPAddress.Parse($"{prefix}.1.2");
        CloudAddresses = [.. Enumerable.Range(0, cloudAddresses).Select(i => IPAddress.Parse($"{prefix}.1.{10 + i}"))];
    }

    public NetworkNamespace Site { get; }

    public NetworkNamespace Cloud { get; }

    public string SiteInterface { get; }

    public string CloudInterface { get; }

    public IPAddress SiteAddress { get; }

    /// <summary>The cloud's addresses, one per server.</summary>
    public IReadOnlyList<IPAddress> CloudAddresses { get; }

    /// <summary>Creates the namespaces, the link, the addresses and an empty nftables input chain in the cloud. Root only.</summary>
    public static async Task<SiteAndCloudNetwork> CreateAsync(int cloudAddresses, ITestOutputHelper output, CancellationToken deadline)
    {
        _ = RequiredTool.Ip;
        _ = RequiredTool.Nft;
        var prefix = await FirewalledNetwork.UnusedPrefixAsync(output, deadline);
        var network = new SiteAndCloudNetwork("tnl" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3)), prefix, cloudAddresses, output);
        try
        {
            await network.BuildAsync(deadline);
            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>From now on the cloud drops every packet addressed to <paramref name="address"/>, without an answer,
    /// including those of connections already open.</summary>
    public Task BlackholeAsync(IPAddress address, CancellationToken deadline) =>
        NftAsync(deadline, "add", "rule", "inet", Table, "input", "ip", "daddr", address.ToString(), "counter", "drop");

    /// <summary>Packets the black hole swallowed so far.</summary>
    public async Task<long> DroppedPacketsAsync(CancellationToken deadline)
    {
        var ruleset = await NftAsync(deadline, "list", "table", "inet", Table);
        return DropCounter().Matches(ruleset).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private async Task BuildAsync(CancellationToken deadline)
    {
        foreach (var ns in new[] { Site, Cloud })
        {
            await IpAsync(deadline, "netns", "add", ns.Name!);
            _created.Add(ns.Name!);
        }

        await IpAsync(deadline, "link", "add", SiteInterface, "netns", Site.Name!, "type", "veth", "peer", "name", CloudInterface, "netns", Cloud.Name!);
        foreach (var (ns, link, addresses) in new[] { (Site, SiteInterface, new[] { SiteAddress }), (Cloud, CloudInterface, CloudAddresses.ToArray()) })
        {
            await ns.SetSysctlAsync("net/ipv6/conf/all/disable_ipv6", "1", _output, deadline);
            await ns.SetSysctlAsync("net/ipv6/conf/default/disable_ipv6", "1", _output, deadline);
            await IpAsync(deadline, "-n", ns.Name!, "link", "set", "lo", "up");
            foreach (var address in addresses)
            {
                await IpAsync(deadline, "-n", ns.Name!, "address", "add", $"{address}/24", "dev", link);
            }

            await IpAsync(deadline, "-n", ns.Name!, "link", "set", link, "up");
        }

        await NftAsync(deadline, "add", "table", "inet", Table);
        await NftAsync(deadline, "add", "chain", "inet", Table, "input", "{ type filter hook input priority filter; policy accept; }");
    }

    private Task<string> IpAsync(CancellationToken deadline, params string[] arguments) =>
        ShortCommand.RunAsync(RequiredTool.Ip, arguments, _output, deadline);

    private Task<string> NftAsync(CancellationToken deadline, params string[] arguments)
    {
        var (file, wrapped) = Cloud.Wrap(RequiredTool.Nft, arguments);
        return ShortCommand.RunAsync(file, wrapped, _output, deadline);
    }

    public async ValueTask DisposeAsync()
    {
        await NetworkNamespace.DeleteAllAsync(_created, _output);
        _created.Clear();
    }

    [GeneratedRegex(@"counter packets (\d+) bytes \d+ drop")]
    private static partial Regex DropCounter();
}
