using Tunnel.Client.Options;
using Tunnel.Config;
using Tunnel.Server.Options;

namespace Tunnel.Tests.Support;

/// <summary>Builds validated options through the same reader the daemons use, from flag-style key/value pairs.</summary>
internal static class TestOptions
{
    public static ServerOptions Server(IReadOnlyDictionary<string, string> values) =>
        Read(values, ServerOptionsReader.Read);

    public static ClientOptions Client(IReadOnlyDictionary<string, string> values) =>
        Read(values, ClientOptionsReader.Read);

    public static T Read<T>(IReadOnlyDictionary<string, string> values, Func<ConfigDocument, List<ConfigError>, T?> read, string? file = null)
        where T : class
    {
        var (options, errors) = TryRead(values, read, file);
        return options ?? throw new InvalidOperationException("invalid test options: " + string.Join("; ", errors));
    }

    public static (T? Options, List<ConfigError> Errors) TryRead<T>(IReadOnlyDictionary<string, string> values,
        Func<ConfigDocument, List<ConfigError>, T?> read, string? file = null, System.Collections.IDictionary? environment = null)
        where T : class
    {
        var errors = new List<ConfigError>();
        var flags = values.ToDictionary(v => v.Key, v => ("--" + v.Key, v.Value), StringComparer.OrdinalIgnoreCase);
        var document = ConfigDocument.Load(file, flags, errors, environment ?? new Dictionary<string, string>());
        var options = errors.Count == 0 ? read(document, errors) : null;
        return (options, errors);
    }
}
