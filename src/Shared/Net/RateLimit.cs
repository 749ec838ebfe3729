using System.Globalization;

namespace Tunnel.Net;

/// <summary>A rate with a burst, as written in configuration: <c>50/s</c> or <c>600/m</c>.</summary>
/// <param name="Permits">How many events per <paramref name="Per"/>.</param>
/// <param name="Per">One second or one minute.</param>
/// <param name="Burst">How many events may pass at once after a quiet spell (the bucket's size).</param>
internal sealed record RateLimit(int Permits, TimeSpan Per, int Burst)
{
    public const string Examples = "e.g. 50/s or 600/m";

    public static bool TryParse(string? text, out int permits, out TimeSpan per)
    {
        permits = 0;
        per = TimeSpan.Zero;
        var parts = (text ?? "").Trim().ToLowerInvariant().Split('/');
        if (parts.Length != 2 ||
            !int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out permits) || permits < 1)
        {
            return false;
        }

        per = parts[1].Trim() switch
        {
            "s" or "sec" or "second" => TimeSpan.FromSeconds(1),
            "m" or "min" or "minute" => TimeSpan.FromMinutes(1),
            _ => TimeSpan.Zero,
        };
        return per != TimeSpan.Zero;
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Permits}/{(Per == TimeSpan.FromSeconds(1) ? "s" : "m")} (burst {Burst})");
}
