using System.Text.RegularExpressions;
using Tunnel.Common;
using Tunnel.Tests.Architecture;

namespace Tunnel.Tests.Common;

/// <summary>Every outcome a close line or <c>tunnel_accept_total</c> can carry has one name, and the operations guide
/// explains each: an operator who greps a log for <c>reason=</c> finds what it means.</summary>
public sealed partial class OutcomeNamesTests
{
    private static readonly string Operations = File.ReadAllText(Path.Combine(NamespaceGraph.FindRepositoryRoot(), "docs", "operations.md"));

    [Fact]
    public void Every_close_outcome_has_its_own_name_documented_in_the_close_reasons_table()
    {
        var names = Enum.GetValues<CloseOutcome>().Select(o => o.Name()).ToList();
        var documented = TableNames(Section("Close reasons:"));

        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, name => Assert.Matches(NameFormat(), name));
        Assert.Empty(names.Except(documented));
        Assert.Empty(documented.Except(names));
    }

    [Fact]
    public void Every_accept_outcome_has_its_own_name_documented_in_the_accept_results_table()
    {
        var names = Enum.GetValues<AcceptOutcome>().Select(o => o.Name()).ToList();
        var documented = TableNames(Section("Accept results"));

        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Empty(names.Except(documented));
        Assert.Empty(documented.Except(names));
    }

    /// <summary>The text from a heading or line that starts with <paramref name="title"/> to the next blank line
    /// after its table.</summary>
    private static string Section(string title)
    {
        var start = Operations.IndexOf(title, StringComparison.Ordinal);
        Assert.True(start >= 0, $"docs/operations.md has no section \"{title}\"");
        var table = Operations.IndexOf("\n|", start, StringComparison.Ordinal);
        var end = Operations.IndexOf("\n\n", table, StringComparison.Ordinal);
        return Operations[table..(end < 0 ? Operations.Length : end)];
    }

    /// <summary>The `names` in the first column of each table row.</summary>
    private static List<string> TableNames(string table) =>
        table.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal))
            .SelectMany(l => FirstColumnName().Matches(l.Split('|')[1]).Select(m => m.Groups[1].Value))
            .ToList();

    [GeneratedRegex("`([a-z-]+)`")]
    private static partial Regex FirstColumnName();

    [GeneratedRegex("^[a-z]+(-[a-z]+)*$")]
    private static partial Regex NameFormat();
}
