namespace Tunnel.Tests.Architecture;

/// <summary>Dependencies run one way: from the two executables down through the hosting, configuration and CLI
/// layers, to the cores (relay, multiplexing, sockets, TLS), to a small leaf. A namespace may use its own layer or
/// any layer below it, never one above; and no two namespaces may use each other, directly or round a loop.</summary>
/// <remarks>A new namespace has to be placed in <see cref="Layers"/> before the build passes: where it sits is a
/// decision, not an accident.</remarks>
public sealed class LayeringTests
{
    /// <summary>Layer of each namespace; a prefix ending in ".*" covers the namespaces below it.</summary>
    private static readonly (string Namespace, int Layer)[] Layers =
    [
        // 0: the leaf. Durations, exit codes, version, defaults, descriptor limit, the reload interface.
        ("Tunnel.Common", 0),

        // 1: the cores. They know bytes, sockets, TLS and frames; no configuration, CLI, hosting or metrics type.
        ("Tunnel.Net", 1),
        ("Tunnel.Net.ProxyProtocol", 1),
        ("Tunnel.Relay", 1),
        ("Tunnel.Mux", 1),
        ("Tunnel.Tls", 1),
        ("Tunnel.Http", 1),
        ("Tunnel.Runtime", 1),

        // 2: services built on the cores.
        ("Tunnel.Logging", 2),
        ("Tunnel.Metrics", 2),
        ("Tunnel.Balancing", 2),
        ("Tunnel.Certs", 2),

        // 3: what turns files, flags and signals into a running process; the admission limits both daemons apply.
        ("Tunnel.Admin", 3),
        ("Tunnel.Admission", 3),
        ("Tunnel.Config", 3),
        ("Tunnel.Config.Stunnel", 3),
        ("Tunnel.Cli", 4),
        ("Tunnel.Certs.Cli", 4),
        ("Tunnel.Hosting", 5),

        // 6: the executables.
        ("Tunnel.Client.*", 6),
        ("Tunnel.Server.*", 6),
    ];

    private static readonly Lazy<NamespaceGraph> Graph = new(() => NamespaceGraph.Build(NamespaceGraph.FindRepositoryRoot()));

    private static readonly string[] Cores = ["Tunnel.Net", "Tunnel.Net.ProxyProtocol", "Tunnel.Relay", "Tunnel.Mux", "Tunnel.Tls"];
    private static readonly string[] Outer = ["Tunnel.Config", "Tunnel.Cli", "Tunnel.Hosting", "Tunnel.Metrics", "Tunnel.Admin", "Tunnel.Logging"];

    [Fact(Timeout = 120_000)]
    public async Task No_namespace_uses_one_that_uses_it_back()
    {
        var graph = await Task.Run(() => Graph.Value);

        var cycles = graph.Cycles();

        Assert.True(cycles.Count == 0, "namespace cycles:\n" + string.Join("\n", cycles.Select(c => Describe(graph, c))));
    }

    [Fact(Timeout = 120_000)]
    public async Task Every_namespace_uses_only_its_own_layer_or_lower_ones()
    {
        var graph = await Task.Run(() => Graph.Value);
        var violations = new List<string>();

        foreach (var from in graph.Namespaces.Where(IsOurs))
        {
            var fromLayer = LayerOf(from);
            if (fromLayer is null)
            {
                violations.Add($"{from} has no layer: place it in {nameof(LayeringTests)}.{nameof(Layers)}");
                continue;
            }

            foreach (var (to, where) in graph.Uses(from).Where(e => IsOurs(e.Key)))
            {
                if (LayerOf(to) is { } toLayer && toLayer > fromLayer)
                {
                    violations.Add($"{from} (layer {fromLayer}) uses {to} (layer {toLayer}) at {where}");
                }
            }
        }

        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }

    [Fact(Timeout = 120_000)]
    public async Task The_cores_know_no_configuration_cli_hosting_or_metrics_type()
    {
        var graph = await Task.Run(() => Graph.Value);

        var leaks = Cores.SelectMany(core => graph.Uses(core)
                .Where(e => Outer.Any(o => e.Key == o || e.Key.StartsWith(o + ".", StringComparison.Ordinal)) || e.Key.StartsWith("Tunnel.Client", StringComparison.Ordinal) || e.Key.StartsWith("Tunnel.Server", StringComparison.Ordinal))
                .Select(e => $"{core} uses {e.Key} at {e.Value}"))
            .ToList();

        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
    }

    [Fact(Timeout = 120_000)]
    public async Task The_graph_sees_the_known_edges()
    {
        // Guards the guard: if the reader stopped seeing references, every test above would pass on nothing.
        var graph = await Task.Run(() => Graph.Value);

        Assert.Contains("Tunnel.Relay", graph.Uses("Tunnel.Mux").Keys);
        Assert.Contains("Tunnel.Common", graph.Uses("Tunnel.Config").Keys);
        Assert.Contains("Tunnel.Client.Dialing", graph.Uses("Tunnel.Client.Connections").Keys);
        Assert.True(graph.Namespaces.Count(IsOurs) >= 25, string.Join(", ", graph.Namespaces.Where(IsOurs)));
    }

    private static bool IsOurs(string ns) => ns == "Tunnel" || ns.StartsWith("Tunnel.", StringComparison.Ordinal);

    private static int? LayerOf(string ns)
    {
        foreach (var (name, layer) in Layers)
        {
            if (name == ns || (name.EndsWith(".*", StringComparison.Ordinal) && (ns == name[..^2] || ns.StartsWith(name[..^1], StringComparison.Ordinal))))
            {
                return layer;
            }
        }

        return null;
    }

    private static string Describe(NamespaceGraph graph, List<string> cycle) =>
        string.Join(" -> ", cycle) + "\n  " + string.Join("\n  ", cycle.Select((ns, i) =>
        {
            var next = cycle[(i + 1) % cycle.Count];
            return graph.Uses(ns).TryGetValue(next, out var where) ? $"{ns} -> {next} at {where}" : $"{ns} -> {next}";
        }));
}
