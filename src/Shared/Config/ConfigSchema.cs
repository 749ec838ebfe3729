using Microsoft.Extensions.Configuration;

namespace Tunnel.Config;

/// <summary>The keys a configuration may contain, so that a typo is an error ("did you mean ...?") instead of a
/// silently ignored setting.</summary>
/// <param name="ProcessKeys">Keys only valid at the root (log, admin, shutdown...).</param>
/// <param name="TunnelKeys">Keys valid in a tunnel section and, as defaults, at the root.</param>
/// <param name="Sections">Nested sections and their keys, e.g. <c>log</c> → level, format, file.</param>
internal sealed record ConfigSchema(
    IReadOnlySet<string> ProcessKeys,
    IReadOnlySet<string> TunnelKeys,
    IReadOnlyDictionary<string, IReadOnlySet<string>> Sections)
{
    public const string TunnelsSection = "tunnels";

    /// <summary>Names of the tunnels defined under <c>tunnels</c>; empty when the root is the only tunnel.</summary>
    public static IReadOnlyList<string> TunnelNames(ConfigDocument document) =>
        document.Root.GetSection(TunnelsSection).GetChildren().Select(c => c.Key).ToList();

    /// <summary>Keys valid at the root: the process's and, as defaults, the tunnels'.</summary>
    private IReadOnlySet<string> RootKeys { get; } = ProcessKeys.Union(TunnelKeys, StringComparer.OrdinalIgnoreCase).ToHashSet(StringComparer.OrdinalIgnoreCase);

    public void CheckUnknownKeys(ConfigDocument document, List<ConfigError> errors)
    {
        // The command-line parser knows only the flags that map to keys; keys handed in some other way (a host
        // program, a test's dictionary of flags) are checked here, so that a misspelt one is an error there too.
        foreach (var (key, (flag, _)) in document.Flags)
        {
            CheckFlagKey(errors, key, flag);
        }

        foreach (var child in document.Root.GetChildren())
        {
            if (child.Key.Equals(TunnelsSection, StringComparison.OrdinalIgnoreCase))
            {
                foreach (var tunnel in child.GetChildren())
                {
                    if (tunnel.Value is not null)
                    {
                        errors.Add(new ConfigError(document.SourceOf(tunnel.Path), tunnel.Path, "a tunnel must be an object of settings"));
                        continue;
                    }

                    foreach (var setting in tunnel.GetChildren())
                    {
                        CheckKey(document, errors, setting, TunnelKeys);
                    }
                }

                continue;
            }

            CheckKey(document, errors, child, RootKeys);
        }
    }

    private void CheckKey(ConfigDocument document, List<ConfigError> errors, IConfigurationSection setting, IReadOnlySet<string> allowed)
    {
        if (!allowed.Contains(setting.Key))
        {
            var source = document.SourceOf(setting.Path);
            var message = Unknown(setting.Key, allowed.Concat(Sections.Keys));
            if (source.StartsWith("environment variable", StringComparison.Ordinal))
            {
                document.Warnings.Add($"{source}: {setting.Path}: {message}; ignored");
            }
            else
            {
                errors.Add(new ConfigError(source, setting.Path, message));
            }

            return;
        }

        if (Sections.TryGetValue(setting.Key, out var keys))
        {
            foreach (var nested in setting.GetChildren())
            {
                if (!keys.Contains(nested.Key))
                {
                    errors.Add(new ConfigError(document.SourceOf(nested.Path), nested.Path, Unknown(nested.Key, keys)));
                }
            }
        }
    }

    private void CheckFlagKey(List<ConfigError> errors, string key, string flag)
    {
        var parts = key.Split(':');
        var (allowed, name) = parts switch
        {
            [var only] => (RootKeys, only),
            [var section, var nested] when Sections.TryGetValue(section, out var keys) => (keys, nested),
            _ => (null, key),
        };
        if (allowed?.Contains(name) == true)
        {
            return;
        }

        errors.Add(new ConfigError(flag, key, Unknown(name, allowed ?? Enumerable.Empty<string>())));
    }

    private static string Unknown(string key, IEnumerable<string> candidates) =>
        Suggest(key, candidates) is { } suggestion ? $"unknown setting (did you mean '{suggestion}'?)" : "unknown setting";

    private static string? Suggest(string key, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = Distance(key.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                bestDistance = distance;
                best = candidate;
            }
        }

        return bestDistance <= Math.Max(2, key.Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
