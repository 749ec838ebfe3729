using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;

namespace Tunnel.Certs;

/// <summary>Source-generated serialization of <c>index.json</c> (no reflection, trimming-safe).</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(CamelCaseEnumConverter<CertificateKind>), typeof(CamelCaseEnumConverter<EntryStatus>), typeof(CamelCaseEnumConverter<X509RevocationReason>)])]
[JsonSerializable(typeof(PkiIndex))]
internal sealed partial class PkiJsonContext : JsonSerializerContext;
