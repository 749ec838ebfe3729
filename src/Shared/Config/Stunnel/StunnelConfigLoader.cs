namespace Tunnel.Config.Stunnel;

/// <summary>Lets a daemon's <c>--config</c> point at a stunnel.conf: recognises the format and converts the file
/// for that daemon, so a systemd <c>ExecStart</c> can keep its old path during a migration.</summary>
internal static class StunnelConfigLoader
{
    public const string Auto = "auto";
    public const string Json = "json";
    public const string Stunnel = "stunnel";

    /// <summary>The JSON equivalent of <paramref name="path"/> when it is a stunnel configuration (by
    /// <paramref name="format"/>, or by its content when <c>auto</c>), else <see langword="null"/>. Conversion errors
    /// are added to <paramref name="errors"/> (each naming file:line and the option), warnings to
    /// <paramref name="warnings"/>.</summary>
    public static ConvertedFile? Prepare(string? path, string? format, StunnelRole role, List<ConfigError> errors, List<string> warnings)
    {
        var chosen = string.IsNullOrWhiteSpace(format) ? Auto : format.Trim().ToLowerInvariant();
        if (chosen is not (Auto or Json or Stunnel))
        {
            errors.Add(new ConfigError("--config-format", "", $"'{format}' is not a format: auto, json or stunnel"));
            return null;
        }

        if (path is null || chosen == Json || !File.Exists(path) || (chosen == Auto && !StunnelConfigFile.LooksLikeStunnel(path)))
        {
            return null;
        }

        var conversion = StunnelConverter.Convert(path, role);
        foreach (var error in conversion.Errors)
        {
            errors.Add(new ConfigError(error.Where, error.Option ?? "", error.Message + " (stunnel configuration; `" + role.Program() + " import-stunnel " + path + "` shows the conversion)"));
        }

        warnings.AddRange(conversion.Warnings.Select(w => "stunnel configuration: " + w));
        warnings.AddRange(conversion.Notes.Select(n => $"stunnel configuration {path}: behaves differently from stunnel: {n}"));
        return conversion.Succeeded ? new ConvertedFile(conversion.ToJson(), conversion.Origins) : null;
    }
}
