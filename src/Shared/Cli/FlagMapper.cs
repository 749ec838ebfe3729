using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using CommandLine;

namespace Tunnel.Cli;

/// <summary>The one place where command-line flags become configuration values.</summary>
internal static class FlagMapper
{
    /// <summary>Every configuration key that has a flag, with that flag (set or not), for error messages.</summary>
    public static Dictionary<string, string> FlagNames([DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] Type optionsType)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<ConfigKeyAttribute>()?.Key is { } key &&
                property.GetCustomAttribute<OptionAttribute>()?.LongName is { } flag)
            {
                result[key] = "--" + flag;
            }
        }

        return result;
    }

    /// <remarks>Reflects over the run type's properties: <see cref="CommonRunOptions"/> carries the trimming
    /// annotation that keeps them (and its subclasses') in trimmed and Native AOT builds.</remarks>
    public static Dictionary<string, (string Flag, string Value)> ToConfigKeys(CommonRunOptions options)
    {
        var result = new Dictionary<string, (string, string)>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var key = property.GetCustomAttribute<ConfigKeyAttribute>()?.Key;
            var flag = property.GetCustomAttribute<OptionAttribute>()?.LongName;
            if (key is null || flag is null)
            {
                continue;
            }

            var value = property.GetValue(options) switch
            {
                null => null,
                string s => s,
                IEnumerable<string> list => list.Any() ? string.Join(",", list) : null,
                bool b => b ? "true" : null,
                var other => Convert.ToString(other, System.Globalization.CultureInfo.InvariantCulture),
            };
            if (value is not null)
            {
                result[key] = ("--" + flag, value);
            }
        }

        return result;
    }
}
