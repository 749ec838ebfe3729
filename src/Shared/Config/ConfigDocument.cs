using System.Collections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;

namespace Tunnel.Config;

/// <summary>The layered configuration of one process: an optional JSON file, then environment variables
/// (<c>TUNNEL_</c> prefix, <c>__</c> between levels) over it, then command-line flags over both. Knows where each
/// value came from so that every error can name the file, variable or flag to fix.</summary>
/// <remarks>Flags are kept apart from the file and environment because they override a key in every tunnel,
/// while a root-level file or environment value is only a default that a tunnel's own section may override.</remarks>
internal sealed class ConfigDocument
{
    public const string EnvironmentPrefix = "TUNNEL_";

    private ConfigDocument(IConfigurationRoot root, string? path, IReadOnlyDictionary<string, (string Flag, string Value)> flags,
        IReadOnlyDictionary<string, string> flagNames, IReadOnlyDictionary<string, string>? origins)
    {
        Root = root;
        FilePath = path;
        Flags = flags;
        FlagNames = flagNames;
        Origins = origins;
    }

    /// <summary>For a file converted from another format (a stunnel.conf), where each key came from in it
    /// (<c>file:line (option)</c>), so errors point at the line to fix; <see langword="null"/> for a JSON file.</summary>
    public IReadOnlyDictionary<string, string>? Origins { get; }

    /// <summary>Every key that has a flag, with the flag's name, so errors can say how to set a missing value.</summary>
    public IReadOnlyDictionary<string, string> FlagNames { get; }

    /// <summary>Command-line values by configuration key (e.g. <c>connectTimeout</c>), with the flag that set them.</summary>
    public IReadOnlyDictionary<string, (string Flag, string Value)> Flags { get; }

    public IConfigurationRoot Root { get; }

    public string? FilePath { get; }

    /// <summary>A label for errors that are not about one value.</summary>
    public string Label => FilePath ?? "configuration";

    /// <summary>Problems that do not stop the process: settings in TUNNEL_ variables that no tunnel uses (other
    /// software may share the prefix), reported once logging is up.</summary>
    public List<string> Warnings { get; } = [];

    /// <summary>Loads the layers. <paramref name="flags"/> maps configuration keys to (flag name, value);
    /// <paramref name="environment"/> defaults to the process environment.</summary>
    public static ConfigDocument Load(
        string? path,
        IReadOnlyDictionary<string, (string Flag, string Value)> flags,
        List<ConfigError> errors,
        IDictionary? environment = null,
        IReadOnlyDictionary<string, string>? flagNames = null,
        ConvertedFile? converted = null)
    {
        var builder = new ConfigurationBuilder();
        if (converted is not null)
        {
            // The file was in another format (a stunnel.conf): its JSON equivalent stands in for it.
            builder.AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(converted.Json)));
        }
        else if (path is not null)
        {
            var full = System.IO.Path.GetFullPath(path);
            if (!File.Exists(full))
            {
                errors.Add(new ConfigError(path, "", "the configuration file does not exist (check the --config path)"));
            }
            else
            {
                builder.AddJsonFile(full, optional: false, reloadOnChange: false);
            }
        }

        builder.Add(new EnvironmentSnapshotSource(environment ?? Environment.GetEnvironmentVariables()));

        IConfigurationRoot root;
        try
        {
            root = builder.Build();
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            errors.Add(new ConfigError(path ?? "configuration", "", $"cannot read: {Describe(ex)}"));
            root = new ConfigurationBuilder().Build();
        }

        return new ConfigDocument(root, path, new Dictionary<string, (string, string)>(flags, StringComparer.OrdinalIgnoreCase),
            flagNames ?? new Dictionary<string, string>(), converted?.Origins);
    }

    /// <summary>Where the effective value of <paramref name="key"/> came from.</summary>
    public string SourceOf(string key)
    {
        if (Flags.TryGetValue(key, out var flag))
        {
            return flag.Flag;
        }

        foreach (var provider in Root.Providers.Reverse())
        {
            if (!provider.TryGet(key, out _) && !HasChildren(provider, key))
            {
                continue;
            }

            return provider switch
            {
                JsonConfigurationProvider => FilePath ?? Label,
                JsonStreamConfigurationProvider => OriginOf(key),
                EnvironmentSnapshotProvider => "environment variable " + EnvironmentPrefix + key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant(),
                _ => Label,
            };
        }

        return Label;
    }

    /// <summary>How an operator sets <paramref name="key"/>: in the file, through the environment, or by flag.</summary>
    public string HowToSet(string key)
    {
        var env = EnvironmentPrefix + key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant();
        var where = FilePath is null ? $"'{key}' in a --config file" : $"'{key}' in {Label}";
        return FlagNames.TryGetValue(key, out var flag) ? $"set {where}, {env}, or {flag}" : $"set {where} or {env}";
    }

    private string OriginOf(string key)
    {
        for (var path = key; path.Length > 0; path = path.Contains(':', StringComparison.Ordinal) ? path[..path.LastIndexOf(':')] : "")
        {
            if (Origins?.TryGetValue(path, out var origin) == true)
            {
                return origin;
            }
        }

        return Label;
    }

    private static bool HasChildren(IConfigurationProvider provider, string key) =>
        provider.GetChildKeys([], key).Any();

    private static string Describe(Exception ex)
    {
        // The configuration library nests the parser's message (which has the line number) inside its own.
        var innermost = ex;
        while (innermost.InnerException is { } inner)
        {
            innermost = inner;
        }

        var detail = innermost == ex ? ex.Message : $"{ex.Message.TrimEnd('.')}: {innermost.Message}";
        return detail.TrimEnd('.') + " (fix the JSON syntax; comments and trailing commas are allowed)";
    }

    /// <summary>Environment variables with the <c>TUNNEL_</c> prefix, from a snapshot so tests can supply their own.</summary>
    private sealed class EnvironmentSnapshotSource(IDictionary variables) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new EnvironmentSnapshotProvider(variables);
    }

    private sealed class EnvironmentSnapshotProvider(IDictionary variables) : ConfigurationProvider
    {
        public override void Load()
        {
            var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (DictionaryEntry entry in variables)
            {
                if (entry.Key is string name && name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                {
                    data[name[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal)] = entry.Value as string;
                }
            }

            Data = data;
        }
    }
}
