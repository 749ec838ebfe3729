using System.Globalization;

namespace Tunnel.Tests.Support;

/// <summary>Reads series out of a Prometheus text exposition (an admin endpoint's /metrics page).</summary>
internal static class MetricsPage
{
    /// <summary>The value of <paramref name="series"/>, written as on the page (the name, then its labels when it has
    /// any), or null when the page has no such line.</summary>
    public static double? Value(string page, string series)
    {
        var line = page.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? null : double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>The value of <paramref name="series"/>; fails the test when the page does not have it.</summary>
    public static double Required(string page, string series)
    {
        var value = Value(page, series);
        Assert.True(value is not null, $"no {series} in /metrics");
        return value.Value;
    }
}
