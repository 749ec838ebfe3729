using System.Text.Json;

namespace Tunnel.EndToEnd.Support;

/// <summary>One line of a tunnel daemon's JSON log (Serilog's JsonFormatter): level, rendered message, event name and
/// the named properties the tests assert on (Address, PeerIdentity, Upstream, Reason, BytesUp, BytesDown).</summary>
internal sealed record TunnelLogEvent(string At, string Severity, string Message, string? EventName, IReadOnlyDictionary<string, string> Fields)
{
    public string? this[string property] => Fields.GetValueOrDefault(property);

    public static TunnelLogEvent? Parse(string line)
    {
        if (!line.StartsWith('{'))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            string? eventName = null;
            if (root.TryGetProperty("Properties", out var bag))
            {
                foreach (var property in bag.EnumerateObject())
                {
                    if (property.Name == "EventId" && property.Value.ValueKind == JsonValueKind.Object &&
                        property.Value.TryGetProperty("Name", out var name))
                    {
                        eventName = name.GetString();
                        continue;
                    }

                    fields[property.Name] = property.Value.ValueKind == JsonValueKind.String
                        ? property.Value.GetString() ?? ""
                        : property.Value.GetRawText();
                }
            }

            return new TunnelLogEvent(
                root.TryGetProperty("Timestamp", out var timestamp) ? timestamp.GetString() ?? "" : "",
                root.TryGetProperty("Level", out var level) ? level.GetString() ?? "" : "",
                root.TryGetProperty("RenderedMessage", out var message) ? message.GetString() ?? "" : "",
                eventName,
                fields);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>How a JSON line reads in the test output.</summary>
    public static string Format(string line) =>
        Parse(line) is { } e ? $"{ClockTime(e.At)} {ShortLevel(e.Severity)} {e.Message}" : line;

    /// <summary>"2026-11-22T05:01:38.8745095+00:00" → "05:01:38.874".</summary>
    private static string ClockTime(string timestamp) => timestamp.Length >= 23 ? timestamp[11..23] : timestamp;

    private static string ShortLevel(string level) => level switch
    {
        "Verbose" => "TRC",
        "Debug" => "DBG",
        "Information" => "INF",
        "Warning" => "WRN",
        "Error" => "ERR",
        "Fatal" => "FTL",
        _ => level,
    };
}
