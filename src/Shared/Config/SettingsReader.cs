using System.Globalization;
using Tunnel.Common;
using Tunnel.Net;

namespace Tunnel.Config;

/// <summary>Reads typed settings for one tunnel (or for the process), collecting every error instead of stopping
/// at the first. A tunnel's value is looked up in this order: a command-line flag, the tunnel's own section
/// (<c>tunnels:NAME:key</c>), then the root of the document, which holds defaults for every tunnel.</summary>
internal sealed class SettingsReader
{
    private readonly ConfigDocument _document;
    private readonly List<ConfigError> _errors;
    private readonly string? _section;

    public SettingsReader(ConfigDocument document, List<ConfigError> errors, string? section)
    {
        _document = document;
        _errors = errors;
        _section = section;
    }

    public IReadOnlyList<ConfigError> Errors => _errors;

    /// <summary>The raw value and the full key it was found under, or null.</summary>
    public (string Value, string Key)? Find(string key)
    {
        if (_document.Flags.TryGetValue(key, out var flag))
        {
            return (flag.Value, key);
        }

        if (_section is not null)
        {
            var scoped = _section + ":" + key;
            if (_document.Root[scoped] is { } value)
            {
                return (value, scoped);
            }
        }

        return _document.Root[key] is { } rootValue ? (rootValue, key) : null;
    }

    public string? String(string key, string? @default = null) => Find(key)?.Value ?? @default;

    public string? RequiredString(string key, string what)
    {
        var found = Find(key);
        if (found is null || string.IsNullOrWhiteSpace(found.Value.Value))
        {
            Missing(key, what);
            return null;
        }

        return found.Value.Value.Trim();
    }

    public TimeSpan Duration(string key, string @default, bool allowDisabled = true)
    {
        var found = Find(key);
        var text = found?.Value ?? @default;
        if (Durations.TryParse(text, allowDisabled, out var value))
        {
            return value.Value;
        }

        Error(found?.Key ?? key, allowDisabled
            ? $"'{text}' is not a duration; use a number with a unit ({Durations.Examples}), or 0 to disable"
            : $"'{text}' is not a positive duration; use a number with a unit ({Durations.Examples})");
        return Durations.Parse(@default);
    }

    public int Int(string key, int @default, int min, int max)
    {
        var found = Find(key);
        if (found is null)
        {
            return @default;
        }

        if (int.TryParse(found.Value.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        Error(found.Value.Key, $"'{found.Value.Value}' must be a whole number from {min} to {max}");
        return @default;
    }

    /// <summary>An optional limit: a whole number from 1 to <paramref name="max"/>, or null when absent, <c>off</c>
    /// or 0.</summary>
    public int? Limit(string key, int max)
    {
        var found = Find(key);
        var text = found?.Value.Trim().ToLowerInvariant();
        if (found is null || text is "" or "off" or "0")
        {
            return null;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= max)
        {
            return value;
        }

        Error(found.Value.Key, $"'{found.Value.Value}' must be a whole number from 1 to {max}, or off");
        return null;
    }

    public bool Bool(string key, bool @default)
    {
        var found = Find(key);
        if (found is null)
        {
            return @default;
        }

        switch (found.Value.Value.Trim().ToLowerInvariant())
        {
            case "true" or "yes" or "on" or "1":
                return true;
            case "false" or "no" or "off" or "0":
                return false;
            default:
                Error(found.Value.Key, $"'{found.Value.Value}' must be true or false");
                return @default;
        }
    }

    public T Choice<T>(string key, T @default, IReadOnlyDictionary<string, T> choices)
    {
        var found = Find(key);
        if (found is null)
        {
            return @default;
        }

        if (choices.TryGetValue(found.Value.Value.Trim().ToLowerInvariant(), out var value))
        {
            return value;
        }

        Error(found.Value.Key, $"'{found.Value.Value}' is not one of: {string.Join(", ", choices.Keys)}");
        return @default;
    }

    public HostPort? Address(string key, string what, bool required, bool allowWildcard)
    {
        var found = Find(key);
        if (found is null || string.IsNullOrWhiteSpace(found.Value.Value))
        {
            if (required)
            {
                Missing(key, what);
            }

            return null;
        }

        return ParseAddress(found.Value.Value, found.Value.Key, allowWildcard);
    }

    /// <summary>A list given as a JSON array or as one comma-separated string (handy in environment variables).</summary>
    public IReadOnlyList<string> List(string key)
    {
        if (_document.Flags.TryGetValue(key, out var flag))
        {
            return Split(flag.Value);
        }

        foreach (var path in Paths(key))
        {
            var section = _document.Root.GetSection(path);
            if (section.Value is { } scalar)
            {
                return Split(scalar);
            }

            var children = section.GetChildren()
                .OrderBy(c => int.TryParse(c.Key, out var i) ? i : int.MaxValue)
                .Select(c => c.Value)
                .Where(v => !string.IsNullOrWhiteSpace(v))
                .Select(v => v!.Trim())
                .ToList();
            if (children.Count > 0)
            {
                return children;
            }
        }

        return [];
    }

    public IReadOnlyList<HostPort> Addresses(string key, string what, bool required)
    {
        var items = List(key);
        if (items.Count == 0 && required)
        {
            Missing(key, what);
        }

        var result = new List<HostPort>(items.Count);
        foreach (var item in items)
        {
            if (ParseAddress(item, FullKey(key), allowWildcard: false) is { } address)
            {
                result.Add(address);
            }
        }

        return result;
    }

    /// <summary>A file path that must exist when given. Relative paths resolve against the configuration file's
    /// folder, as operators expect from a config that sits next to its certificates.</summary>
    public string? FilePath(string key, string what, bool required)
    {
        var found = Find(key);
        if (found is null || string.IsNullOrWhiteSpace(found.Value.Value))
        {
            if (required)
            {
                Missing(key, what);
            }

            return null;
        }

        var path = ResolvePath(found.Value.Value.Trim(), fromFlag: _document.Flags.ContainsKey(key));
        if (!File.Exists(path))
        {
            Error(found.Value.Key, $"{what} '{path}' does not exist (check the path; in Kubernetes, the volume's mountPath and the Secret's keys: tls.crt, tls.key, ca.crt)");
        }

        return path;
    }

    public string ResolvePath(string path, bool fromFlag)
    {
        if (System.IO.Path.IsPathRooted(path) || fromFlag || _document.FilePath is null)
        {
            return System.IO.Path.GetFullPath(path);
        }

        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(_document.FilePath))!;
        return System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, path));
    }

    public void Error(string fullKey, string message) =>
        _errors.Add(new ConfigError(_document.SourceOf(fullKey), fullKey, message));

    /// <summary>Reports an error about a setting of this tunnel, located where its value was found.</summary>
    public void ErrorAt(string key, string message) => Error(Find(key)?.Key ?? FullKey(key), message);

    public string FullKey(string key) => _section is null ? key : _section + ":" + key;

    private void Missing(string key, string what) =>
        _errors.Add(new ConfigError(_document.Label, FullKey(key), $"{what} is required: {_document.HowToSet(key)}"));

    private HostPort? ParseAddress(string text, string fullKey, bool allowWildcard)
    {
        if (!HostPort.TryParse(text, out var address, out var error))
        {
            Error(fullKey, error);
            return null;
        }

        if (address.Value.IsWildcard && !allowWildcard)
        {
            Error(fullKey, $"'{text}' needs a host name or address");
            return null;
        }

        return address;
    }

    private IEnumerable<string> Paths(string key)
    {
        if (_section is not null)
        {
            yield return _section + ":" + key;
        }

        yield return key;
    }

    private static List<string> Split(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
}
