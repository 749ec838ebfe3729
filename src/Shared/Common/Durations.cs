using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Tunnel.Common;

/// <summary>Durations as operators write them: <c>250ms</c>, <c>10s</c>, <c>5m</c>, <c>12h</c>, <c>7d</c>, a bare
/// number of seconds, or <c>0</c> / <c>off</c> / <c>infinite</c> where a limit may be disabled.</summary>
internal static class Durations
{
    public const string Examples = "250ms, 10s, 5m, 1h, 7d";

    public static bool TryParse(string? text, bool allowDisabled, [NotNullWhen(true)] out TimeSpan? value)
    {
        value = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim().ToLowerInvariant();
        if (text is "off" or "none" or "infinite" or "0" or "0s")
        {
            if (!allowDisabled)
            {
                return false;
            }

            value = Timeout.InfiniteTimeSpan;
            return true;
        }

        var unitStart = 0;
        while (unitStart < text.Length && (char.IsDigit(text[unitStart]) || text[unitStart] == '.'))
        {
            unitStart++;
        }

        if (unitStart == 0 || !double.TryParse(text.AsSpan(0, unitStart), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        var scale = text[unitStart..] switch
        {
            "" or "s" or "sec" => TimeSpan.FromSeconds(1),
            "ms" => TimeSpan.FromMilliseconds(1),
            "m" or "min" => TimeSpan.FromMinutes(1),
            "h" => TimeSpan.FromHours(1),
            "d" => TimeSpan.FromDays(1),
            _ => TimeSpan.Zero,
        };
        if (scale == TimeSpan.Zero || number <= 0 || number * scale.TotalSeconds > TimeSpan.FromDays(3650).TotalSeconds)
        {
            return false;
        }

        // A positive number too small for a tick ("0.00000000001") would come out as zero, which is no timeout at all
        // (found by fuzzing).
        var result = scale * number;
        if (result <= TimeSpan.Zero)
        {
            return false;
        }

        value = result;
        return true;
    }

    public static TimeSpan Parse(string text, bool allowDisabled = true) =>
        TryParse(text, allowDisabled, out var value) ? value.Value : throw new FormatException($"'{text}' is not a duration ({Examples})");

    /// <summary>Formats for logs and help: the largest whole unit, or <c>off</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == Timeout.InfiniteTimeSpan)
        {
            return "off";
        }

        if (value.TotalMilliseconds < 1000 || value.Milliseconds != 0)
        {
            return $"{value.TotalMilliseconds:0.###}ms";
        }

        if (value.TotalDays >= 1 && value.TotalDays == Math.Floor(value.TotalDays))
        {
            return $"{value.TotalDays:0}d";
        }

        if (value.TotalHours >= 1 && value.TotalHours == Math.Floor(value.TotalHours))
        {
            return $"{value.TotalHours:0}h";
        }

        if (value.TotalMinutes >= 1 && value.TotalMinutes == Math.Floor(value.TotalMinutes))
        {
            return $"{value.TotalMinutes:0}m";
        }

        return $"{value.TotalSeconds:0}s";
    }
}
