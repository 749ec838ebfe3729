using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tunnel.Client.Diagnostics;

/// <summary>Source-generated serialization of <c>diagnose --json</c> (no reflection, so it works trimmed and under
/// Native AOT): web defaults (camelCase), indented, enums as strings.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(DiagnosisReport))]
internal sealed partial class DiagnosisJsonContext : JsonSerializerContext;
