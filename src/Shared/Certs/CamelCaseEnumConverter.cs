using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tunnel.Certs;

/// <summary>Enums as camelCase strings (<c>keyCompromise</c>, <c>server</c>): the words the command line uses, so
/// the index and <c>--json</c> output read like the commands that made them.</summary>
internal sealed class CamelCaseEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.CamelCase, allowIntegerValues: false)
    where TEnum : struct, Enum;
