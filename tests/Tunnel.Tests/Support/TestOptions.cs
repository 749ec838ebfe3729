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

    /// <summary>tunnel-server options from <paramref name="values"/> over a minimal valid server (listen, upstream,
    /// a certificate of <paramref name="pki"/>): for tests of one key's reading.</summary>
    public static (ServerOptions? Options, List<ConfigError> Errors) TryReadServer(TestPki pki, IReadOnlyDictionary<string, string> values)
    {
        var server = pki.IssueServer();
        var all = new Dictionary<string, string>
        {
            ["listen"] = "127.0.0.1:0",
            ["upstreams"] = "127.0.0.1:3128",
            ["cert"] = server.Cert,
            ["key"] = server.Key,
            ["ca"] = pki.CaPath,
        };
        foreach (var (key, value) in values)
        {
            all[key] = value;
        }

        return TryRead(all, ServerOptionsReader.Read);
    }

    /// <summary><see cref="TryReadServer"/> that must succeed.</summary>
    public static ServerOptions ReadServer(TestPki pki, IReadOnlyDictionary<string, string> values) =>
        TryReadServer(pki, values) is { Options: { } options } ? options
            : throw new InvalidOperationException("invalid test options: " + string.Join("; ", TryReadServer(pki, values).Errors));

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
