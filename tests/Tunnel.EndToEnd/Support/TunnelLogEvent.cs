using System.Text.Json;

namespace Tunnel.EndToEnd.Support;

/// <summary>One line of a tunnel daemon's JSON log (flat: time, level, event, category, message, then the named
/// properties the tests assert on: address, peerIdentity, upstream, reason, bytesUp, bytesDown). Properties are
/// looked up case-insensitively, so tests may write them as the message templates do (Reason, BytesUp).</summary>
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
            var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var property in root.EnumerateObject())
            {
                fields[property.Name] = property.Value.ValueKind == JsonValueKind.String
                    ? property.Value.GetString() ?? ""
                    : property.Value.GetRawText();
            }

            return new TunnelLogEvent(
                fields.GetValueOrDefault("time", ""),
                fields.GetValueOrDefault("level", ""),
                fields.GetValueOrDefault("message", ""),
                fields.GetValueOrDefault("event"),
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
        "trace" => "TRC",
        "debug" => "DBG",
        "information" => "INF",
        "warning" => "WRN",
        "error" => "ERR",
        "critical" => "CRT",
        _ => level,
    };
}
