using System.Reflection;
using System.Xml.Linq;
using CommandLine;
using Tunnel.Cli;
using Tunnel.Client.Cli;
using Tunnel.Server.Cli;
using Tunnel.Tests.Architecture;

namespace Tunnel.Tests.Cli;

/// <summary>Trimmed and Native AOT builds keep every type CommandLineParser builds by reflection only because the
/// trimmer root descriptors (src/Shared/Cli/TrimmerRoots.xml, src/Tunnel*/Cli/TrimmerRoots.xml) list it: an options
/// type left out parses in the JIT build and fails at start in the AOT one.</summary>
public sealed class CliTrimmingTests
{
    [Fact(Timeout = 10_000)]
    public async Task Every_options_type_of_each_assembly_is_kept_whole_by_its_trimmer_roots()
    {
        var assemblies = new[] { typeof(CommonRunOptions).Assembly, typeof(ServerRunOptions).Assembly, typeof(ClientRunOptions).Assembly };
        var kept = new List<(string Assembly, string Type, string? Preserve)>();
        foreach (var path in new[] { "src/Shared/Cli/TrimmerRoots.xml", "src/TunnelServer/Cli/TrimmerRoots.xml", "src/TunnelClient/Cli/TrimmerRoots.xml" })
        {
            await using var file = File.OpenRead(Path.Combine(NamespaceGraph.FindRepositoryRoot(), path));
            var xml = await XDocument.LoadAsync(file, LoadOptions.None, CancellationToken.None);
            kept.AddRange(xml.Descendants("assembly").SelectMany(a => a.Elements("type").Select(t =>
                ((string)a.Attribute("fullname")!, (string)t.Attribute("fullname")!, (string?)t.Attribute("preserve")))));
        }

        var needed = assemblies.SelectMany(a => a.GetTypes()).Where(IsOptionsType)
            .Select(t => (Assembly: t.Assembly.GetName().Name!, Type: t.FullName!))
            .ToList();

        Assert.NotEmpty(needed);
        Assert.Contains(needed, t => t.Type == typeof(ServerRunOptions).FullName);
        Assert.All(needed, t => Assert.Contains(kept, k => k.Assembly == t.Assembly && k.Type == t.Type && k.Preserve == "all"));
        // And nothing listed that no longer exists (a rename would otherwise leave the new name unprotected).
        Assert.All(kept, k => Assert.NotNull(assemblies.Single(a => a.GetName().Name == k.Assembly).GetType(k.Type)));
    }

    /// <summary>A verb, or a type whose properties carry [Option]/[Value] (verbs' base classes).</summary>
    private static bool IsOptionsType(Type type) =>
        type.GetCustomAttribute<VerbAttribute>() is not null ||
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Any(p => p.GetCustomAttribute<OptionAttribute>() is not null || p.GetCustomAttribute<ValueAttribute>() is not null);
}
