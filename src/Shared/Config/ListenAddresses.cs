using Tunnel.Net;

namespace Tunnel.Config;

/// <summary>Validation shared by both daemons: no two tunnels may listen on the same address.</summary>
internal static class ListenAddresses
{
    public static void CheckDistinct(IEnumerable<(string Name, HostPort Address)> tunnels, ConfigDocument document, List<ConfigError> errors)
    {
        foreach (var group in tunnels.Where(t => t.Address.Port != 0).GroupBy(t => t.Address))
        {
            var names = group.Select(t => t.Name).ToList();
            if (names.Count > 1)
            {
                errors.Add(new ConfigError(document.Label, ConfigSchema.TunnelsSection,
                    $"tunnels {string.Join(" and ", names)} both listen on {group.Key}; give each tunnel its own 'listen' address"));
            }
        }
    }
}
