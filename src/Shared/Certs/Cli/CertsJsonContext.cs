using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;
using Tunnel.Tls;

namespace Tunnel.Certs.Cli;

/// <summary>Source-generated serialization of the <c>--json</c> outputs.</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    Converters = [
        typeof(CamelCaseEnumConverter<CertificateKind>),
        typeof(CamelCaseEnumConverter<CertificateStatus>),
        typeof(CamelCaseEnumConverter<X509RevocationReason>),
        typeof(CamelCaseEnumConverter<PeerProblem>)])]
[JsonSerializable(typeof(ListReport))]
[JsonSerializable(typeof(InspectReport))]
internal sealed partial class CertsJsonContext : JsonSerializerContext;
