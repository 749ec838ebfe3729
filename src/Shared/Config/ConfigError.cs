namespace Tunnel.Config;

/// <summary>One problem in the configuration: where the value came from (a file, an environment variable or a
/// flag), which key, and what is wrong and what to do.</summary>
internal sealed record ConfigError(string Source, string Key, string Message)
{
    public override string ToString() =>
        string.IsNullOrEmpty(Key) ? $"{Source}: {Message}" : $"{Source}: {Key}: {Message}";
}
