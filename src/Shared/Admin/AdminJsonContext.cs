using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tunnel.Admin;

/// <summary>The body of <c>/readyz</c>.</summary>
internal sealed record ReadinessReport(string Status, IReadOnlyList<TunnelReadiness> Tunnels);

/// <summary>Source-generated serialization of the admin endpoint's JSON (no reflection, so it works trimmed and
/// under Native AOT): web defaults (camelCase), indented, nulls left out.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ReadinessReport))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;
