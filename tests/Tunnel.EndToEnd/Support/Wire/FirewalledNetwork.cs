using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>A customer site, its firewall and the cloud as three network namespaces on a line, joined by veth pairs:
/// <code>
///   site  (curl, inner Squid, tunnel-client)   SiteAddress      .1.2/24   -s  ┐
///   fw    (routes between the two; nftables)   FirewallSite..   .1.1/24   -fs ┘  ← capture: SiteFacingInterface
///                                              FirewallCloud..  .2.1/24   -fc ┐  ← capture: CloudFacingInterface
///   cloud (tunnel-server :443, outer Squid, nginx)  CloudAddress .2.2/24  -c  ┘
/// </code>
/// The site's default route is the firewall, as on a real site, so anything that tries to go around the tunnel reaches
/// the firewall and its captures. The cloud routes only the site's subnet back, so the cloud's own traffic (which would
/// not cross a customer's firewall) stays off the wire. The firewall forwards exactly one thing from the site, TCP to
/// the tunnel-server's address on port 443 (the rule <see cref="RemoveTunnelRuleAsync"/> deletes), plus the cloud's
/// replies on those connections, and counts and drops everything else, itself included as a destination. IPv6 is off in all three namespaces, so the
/// captures hold no link-local chatter: only ARP and what the daemons send.
/// Names carry a random tag per instance, so tests run in parallel. Disposal deletes the namespaces, and with them
/// the veths and rules; stop the processes inside first (a namespace lives on while a process is in it).</summary>
internal sealed partial class FirewalledNetwork : IAsyncDisposable
{
    /// <summary>The port the firewall lets through, and the one tunnel-server listens on.</summary>
    public const int TunnelPort = 443;

    private const string Table = "tunnel_e2e";

    private readonly ITestOutputHelper _output;
    private readonly List<string> _created = [];
    private int? _tunnelRuleHandle;

    private FirewalledNetwork(string tag, string prefix, ITestOutputHelper output)
    {
        Tag = tag;
        _output = output;
        Site = NetworkNamespace.Named($"{tag}-site");
        Firewall = NetworkNamespace.Named($"{tag}-fw");
        Cloud = NetworkNamespace.Named($"{tag}-cloud");
        SiteInterface = $"{tag}-s";
        SiteFacingInterface = $"{tag}-fs";
        CloudFacingInterface = $"{tag}-fc";
        CloudInterface = $"{tag}-c";
        SiteAddress = IPAddress.Parse($"{prefix}.1.2");
        FirewallSiteAddress = IPAddress.Parse($"{prefix}.1.1");
        FirewallCloudAddress = IPAddress.Parse($"{prefix}.2.1");
        CloudAddress = IPAddress.Parse($"{prefix}.2.2");
        SiteSubnet = $"{prefix}.1.0/24";
    }

    /// <summary>The random part of every name, e.g. "tnl3fa9c0".</summary>
    public string Tag { get; }

    public NetworkNamespace Site { get; }

    public NetworkNamespace Firewall { get; }

    public NetworkNamespace Cloud { get; }

    public string SiteInterface { get; }

    /// <summary>The firewall's interface towards the site: everything the site sends, dropped or not.</summary>
    public string SiteFacingInterface { get; }

    /// <summary>The firewall's interface towards the cloud: what crossed.</summary>
    public string CloudFacingInterface { get; }

    public string CloudInterface { get; }

    public IPAddress SiteAddress { get; }

    public IPAddress FirewallSiteAddress { get; }

    public IPAddress FirewallCloudAddress { get; }

    /// <summary>The cloud's one address, where tunnel-server listens on <see cref="TunnelPort"/>.</summary>
    public IPAddress CloudAddress { get; }

    public string SiteSubnet { get; }

    /// <summary>The address the firewall lets the site reach.</summary>
    public IPEndPoint TunnelEndpoint => new(CloudAddress, TunnelPort);

    /// <summary>Creates the namespaces, links, addresses, routes and rules. Must run as root.</summary>
    public static async Task<FirewalledNetwork> CreateAsync(ITestOutputHelper output, CancellationToken deadline)
    {
        RequiredTool.CheckFirewallTools();
        var prefix = await UnusedPrefixAsync(output, deadline);
        var network = new FirewalledNetwork("tnl" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3)), prefix, output);
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

    /// <summary>Deletes the rule letting the site reach the tunnel-server: from now on the firewall forwards nothing from the site, not even
    /// packets of connections already open.</summary>
    public async Task RemoveTunnelRuleAsync(CancellationToken deadline)
    {
        var handle = _tunnelRuleHandle ?? throw new InvalidOperationException("the tunnel rule is already gone");
        await NftAsync(deadline, "delete", "rule", "inet", Table, "forward", "handle", handle.ToString(CultureInfo.InvariantCulture));
        _tunnelRuleHandle = null;
    }

    /// <summary>Packets the firewall's catch-all rules dropped so far (forwarded and addressed to itself).</summary>
    public async Task<long> DroppedPacketsAsync(CancellationToken deadline)
    {
        var ruleset = await NftAsync(deadline, "list", "table", "inet", Table);
        return DropCounter().Matches(ruleset).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>The firewall's ruleset as nft lists it, for the test output.</summary>
    public Task<string> RulesetAsync(CancellationToken deadline) => NftAsync(deadline, "list", "table", "inet", Table);

    /// <summary>Starts tcpdump in the firewall on <paramref name="interfaceName"/>.</summary>
    public Task<PacketCapture> CaptureAsync(string interfaceName, string path, CancellationToken deadline) =>
        PacketCapture.StartAsync(Firewall, interfaceName, path, _output, deadline);

    private async Task BuildAsync(CancellationToken deadline)
    {
        foreach (var ns in new[] { Site, Firewall, Cloud })
        {
            await IpAsync(deadline, "netns", "add", ns.Name!);
            _created.Add(ns.Name!);
        }

        // Made inside their namespaces: nothing ever appears in the test's own namespace.
        await IpAsync(deadline, "link", "add", SiteInterface, "netns", Site.Name!, "type", "veth", "peer", "name", SiteFacingInterface, "netns", Firewall.Name!);
        await IpAsync(deadline, "link", "add", CloudFacingInterface, "netns", Firewall.Name!, "type", "veth", "peer", "name", CloudInterface, "netns", Cloud.Name!);

        foreach (var ns in new[] { Site, Firewall, Cloud })
        {
            await ns.SetSysctlAsync("net/ipv6/conf/all/disable_ipv6", "1", _output, deadline);
            await ns.SetSysctlAsync("net/ipv6/conf/default/disable_ipv6", "1", _output, deadline);
            await IpAsync(deadline, "-n", ns.Name!, "link", "set", "lo", "up");
        }

        await Firewall.SetSysctlAsync("net/ipv4/ip_forward", "1", _output, deadline);

        foreach (var (ns, name, address) in new[]
        {
            (Site, SiteInterface, SiteAddress), (Firewall, SiteFacingInterface, FirewallSiteAddress),
            (Firewall, CloudFacingInterface, FirewallCloudAddress), (Cloud, CloudInterface, CloudAddress),
        })
        {
            await IpAsync(deadline, "-n", ns.Name!, "address", "add", $"{address}/24", "dev", name);
            await IpAsync(deadline, "-n", ns.Name!, "link", "set", name, "up");
        }

        await IpAsync(deadline, "-n", Site.Name!, "route", "add", "default", "via", FirewallSiteAddress.ToString());
        await IpAsync(deadline, "-n", Cloud.Name!, "route", "add", SiteSubnet, "via", FirewallCloudAddress.ToString());

        await NftAsync(deadline, "add", "table", "inet", Table);
        await NftAsync(deadline, "add", "chain", "inet", Table, "input", "{ type filter hook input priority filter; policy accept; }");
        await NftAsync(deadline, "add", "rule", "inet", Table, "input", "counter", "drop");
        await NftAsync(deadline, "add", "chain", "inet", Table, "forward", "{ type filter hook forward priority filter; policy accept; }");
        // Replies only: a packet from the cloud is forwarded when it belongs to a connection the site opened.
        await NftAsync(deadline, "add", "rule", "inet", Table, "forward", "iifname", CloudFacingInterface, "oifname", SiteFacingInterface,
            "ct", "state", "established", "accept");
        // Stateless on purpose: once this rule is gone no packet from the site crosses, even on an open connection.
        var added = await NftAsync(deadline, "--echo", "--handle", "add", "rule", "inet", Table, "forward", "iifname", SiteFacingInterface,
            "oifname", CloudFacingInterface, "ip", "daddr", CloudAddress.ToString(), "tcp", "dport", TunnelPort.ToString(CultureInfo.InvariantCulture),
            "counter", "accept");
        _tunnelRuleHandle = int.Parse(RuleHandle().Match(added) is { Success: true } m ? m.Groups[1].Value
            : throw new InvalidOperationException($"no rule handle in nft's echo: {added}"), CultureInfo.InvariantCulture);
        await NftAsync(deadline, "add", "rule", "inet", Table, "forward", "counter", "drop");
        _output.WriteLine(await RulesetAsync(deadline));
    }

    /// <summary>A 10.x/16 the machine does not use, so an address in a capture or log is unambiguous. The namespaces
    /// are isolated from the test's own, so even a clash would not misroute anything.</summary>
    internal static async Task<string> UnusedPrefixAsync(ITestOutputHelper output, CancellationToken deadline)
    {
        var used = await ShortCommand.RunAsync(RequiredTool.Ip, ["-4", "-o", "address", "show"], output, deadline, echo: false) +
            await ShortCommand.RunAsync(RequiredTool.Ip, ["-4", "route", "show", "table", "all"], output, deadline, echo: false);
        for (var second = 200; second < 250; second++)
        {
            var prefix = $"10.{second}";
            if (!Regex.IsMatch(used, $@"(^|[\s/]){Regex.Escape(prefix)}\.", RegexOptions.Multiline))
            {
                return prefix;
            }
        }

        throw new InvalidOperationException($"every 10.200-249.0.0/16 is in use on this machine:\n{used}");
    }

    private Task<string> IpAsync(CancellationToken deadline, params string[] arguments) =>
        ShortCommand.RunAsync(RequiredTool.Ip, arguments, _output, deadline);

    private Task<string> NftAsync(CancellationToken deadline, params string[] arguments)
    {
        var (file, wrapped) = Firewall.Wrap(RequiredTool.Nft, arguments);
        return ShortCommand.RunAsync(file, wrapped, _output, deadline);
    }

    public async ValueTask DisposeAsync()
    {
        await NetworkNamespace.DeleteAllAsync(_created, _output);
        _created.Clear();
    }

    [GeneratedRegex(@"# handle (\d+)")]
    private static partial Regex RuleHandle();

    [GeneratedRegex(@"counter packets (\d+) bytes \d+ drop")]
    private static partial Regex DropCounter();
}
