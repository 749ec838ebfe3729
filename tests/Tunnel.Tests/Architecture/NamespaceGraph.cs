using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Tunnel.Tests.Architecture;

/// <summary>Which of Tunnel's namespaces uses which, read from the source with Roslyn's semantic model: every name
/// in the code (a type, a member, a constant, an attribute, a <c>typeof</c>) counts, whether it came through a
/// <c>using</c> line or a qualified name. Reading the compiled assemblies instead would miss constants, which the
/// compiler copies into the user's IL.</summary>
internal sealed class NamespaceGraph
{
    private static readonly string[] ImplicitUsings =
        ["System", "System.IO", "System.Collections.Generic", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    private readonly Dictionary<string, Dictionary<string, Reference>> _edges = new(StringComparer.Ordinal);

    private NamespaceGraph()
    {
    }

    /// <summary>One place where a namespace uses another: enough to find it.</summary>
    public sealed record Reference(string File, int Line, string Symbol)
    {
        public override string ToString() => $"{File}:{Line} ({Symbol})";
    }

    public IEnumerable<string> Namespaces => _edges.Keys.Concat(_edges.Values.SelectMany(e => e.Keys)).Distinct().Order(StringComparer.Ordinal);

    /// <summary>The namespaces <paramref name="from"/> uses, each with the first place it does.</summary>
    public IReadOnlyDictionary<string, Reference> Uses(string from) =>
        _edges.TryGetValue(from, out var to) ? to : new Dictionary<string, Reference>();

    /// <summary>The graph of src/Shared, src/TunnelClient and src/TunnelServer (each daemon compiled against Shared).</summary>
    public static NamespaceGraph Build(string repositoryRoot)
    {
        var graph = new NamespaceGraph();
        var frameworkAndPackages = FrameworkAndPackageReferences();
        var shared = Compile("Tunnel.Shared", Path.Combine(repositoryRoot, "src", "Shared"), frameworkAndPackages,
            ["tunnel-client", "tunnel-server"]);
        graph.Add(shared, repositoryRoot);
        foreach (var (assembly, folder) in new[] { ("tunnel-client", "TunnelClient"), ("tunnel-server", "TunnelServer") })
        {
            var daemon = Compile(assembly, Path.Combine(repositoryRoot, "src", folder), frameworkAndPackages.Add(shared.ToMetadataReference()), []);
            graph.Add(daemon, repositoryRoot);
        }

        return graph;
    }

    /// <summary>The repository root: the folder above the test binaries that holds Tunnel.sln.</summary>
    public static string FindRepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Tunnel.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("Tunnel.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Strongly connected components with more than one namespace: each is a cycle.</summary>
    public List<List<string>> Cycles()
    {
        // Tarjan's algorithm.
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var cycles = new List<List<string>>();
        var next = 0;

        void Visit(string v)
        {
            index[v] = low[v] = next++;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in Uses(v).Keys)
            {
                if (!index.TryGetValue(w, out var visited))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                {
                    low[v] = Math.Min(low[v], visited);
                }
            }

            if (low[v] == index[v])
            {
                var component = new List<string>();
                string w;
                do
                {
                    w = stack.Pop();
                    onStack.Remove(w);
                    component.Add(w);
                }
                while (w != v);
                if (component.Count > 1)
                {
                    component.Sort(StringComparer.Ordinal);
                    cycles.Add(component);
                }
            }
        }

        foreach (var v in Namespaces)
        {
            if (!index.ContainsKey(v))
            {
                Visit(v);
            }
        }

        return cycles;
    }

    private void Add(CSharpCompilation compilation, string repositoryRoot)
    {
        foreach (var tree in compilation.SyntaxTrees)
        {
            if (tree.FilePath.Length == 0)
            {
                continue; // the attribute and global-using trees this class adds
            }

            var model = compilation.GetSemanticModel(tree);
            var root = tree.GetCompilationUnitRoot();
            foreach (var name in root.DescendantNodes().OfType<SimpleNameSyntax>())
            {
                var from = DeclaringNamespace(name);
                var info = model.GetSymbolInfo(name);
                var symbol = info.Symbol ?? info.CandidateSymbols.FirstOrDefault();
                if (from is null || NamespaceOf(symbol) is not { } to || to == from || !to.StartsWith("Tunnel", StringComparison.Ordinal))
                {
                    continue;
                }

                var uses = _edges.TryGetValue(from, out var existing) ? existing : _edges[from] = new(StringComparer.Ordinal);
                if (!uses.ContainsKey(to))
                {
                    var line = name.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                    uses[to] = new Reference(Path.GetRelativePath(repositoryRoot, tree.FilePath), line, symbol!.ToDisplayString());
                }
            }
        }
    }

    /// <summary>The namespace a name is written in; top-level statements (Program.cs) count as the global namespace,
    /// which belongs to the executable and is not checked.</summary>
    private static string? DeclaringNamespace(SyntaxNode node) =>
        node.Ancestors().OfType<BaseNamespaceDeclarationSyntax>().FirstOrDefault()?.Name.ToString() is { } name
            ? (node.Ancestors().OfType<BaseNamespaceDeclarationSyntax>().Skip(1).FirstOrDefault() is { } outer ? outer.Name + "." + name : name)
            : null;

    private static string? NamespaceOf(ISymbol? symbol)
    {
        switch (symbol)
        {
            case null or INamespaceSymbol or ILocalSymbol or IParameterSymbol or ILabelSymbol or IRangeVariableSymbol or ITypeParameterSymbol:
                return null;
            case IMethodSymbol { ReducedFrom: { } extension }:
                return NamespaceOf(extension);
            case IArrayTypeSymbol array:
                return NamespaceOf(array.ElementType);
        }

        var type = symbol as INamedTypeSymbol ?? symbol.ContainingType;
        while (type?.ContainingType is not null)
        {
            type = type.ContainingType;
        }

        return type?.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : null;
    }

    private static CSharpCompilation Compile(string assemblyName, string folder, ImmutableArray<MetadataReference> references, string[] friends)
    {
        var parse = CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Preview);
        var trees = Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) &&
                           !path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(path => CSharpSyntaxTree.ParseText(File.ReadAllText(path), parse, path))
            .ToList();
        var preamble = string.Concat(ImplicitUsings.Select(u => $"global using global::{u};\n")) +
                       string.Concat(friends.Select(f => $"[assembly: System.Runtime.CompilerServices.InternalsVisibleTo(\"{f}\")]\n"));
        trees.Add(CSharpSyntaxTree.ParseText(preamble, parse));
        return CSharpCompilation.Create(assemblyName, trees, references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
    }

    /// <summary>The framework and NuGet assemblies this test process runs with, less Tunnel's own (compiled here from
    /// source instead).</summary>
    private static ImmutableArray<MetadataReference> FrameworkAndPackageReferences()
    {
        var own = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "Tunnel.Shared", "tunnel-client", "tunnel-server", "Tunnel.Tests" };
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        return [.. paths.Where(p => !own.Contains(Path.GetFileNameWithoutExtension(p))).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }
}
