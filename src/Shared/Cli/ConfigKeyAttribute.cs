namespace Tunnel.Cli;

/// <summary>Maps a command-line option to the configuration key it overrides, so that flags, the file and
/// environment variables share one validator.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class ConfigKeyAttribute(string key) : Attribute
{
    public string Key => key;
}
