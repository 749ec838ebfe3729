using System.Text.Json.Nodes;

namespace Tunnel.Config.Stunnel;

/// <summary>The outcome of converting a stunnel configuration: Tunnel's JSON configuration (when there is no error),
/// the errors (options Tunnel cannot honour, the wrong side...), warnings (options with no effect), and notes on
/// defaults that differ, which are also written into the JSON as comments.</summary>
internal sealed class StunnelConversion
{
    private static readonly System.Text.Json.JsonSerializerOptions Indented = new() { WriteIndented = true };

    public List<StunnelProblem> Errors { get; } = [];

    public List<StunnelProblem> Warnings { get; } = [];

    /// <summary>Behaviour that changes with the move (stunnel's defaults against Tunnel's), stated once.</summary>
    public List<string> Notes { get; } = [];

    /// <summary>The configuration, or <see langword="null"/> when there are errors.</summary>
    public JsonObject? Document { get; set; }

    /// <summary>For each configuration key written (<c>tunnels:NAME:cert</c>, <c>log:level</c>...), the stunnel line
    /// it came from, as <c>file:line (option)</c>, so that errors about the converted values point at stunnel.conf.</summary>
    public Dictionary<string, string> Origins { get; } = new(StringComparer.OrdinalIgnoreCase);

    public bool Succeeded => Errors.Count == 0 && Document is not null;

    /// <summary>The configuration as indented JSON, the notes first as comments (Tunnel's reader allows them).</summary>
    public string ToJson()
    {
        if (Document is null)
        {
            throw new InvalidOperationException("the conversion failed; there is no configuration to write");
        }

        var builder = new System.Text.StringBuilder();
        foreach (var note in Notes)
        {
            builder.Append("// ").AppendLine(note.Replace("\n", " ", StringComparison.Ordinal));
        }

        builder.AppendLine(Document.ToJsonString(Indented));
        return builder.ToString();
    }
}
