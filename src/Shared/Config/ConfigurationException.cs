namespace Tunnel.Config;

/// <summary>The configuration is invalid. Carries every error found, not only the first.</summary>
internal sealed class ConfigurationException(IReadOnlyList<ConfigError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<ConfigError> Errors => errors;
}
