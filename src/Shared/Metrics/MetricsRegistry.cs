using System.Globalization;
using System.Text;

namespace Tunnel.Metrics;

/// <summary>Holds metric families and renders them in the Prometheus text exposition format (version 0.0.4),
/// which `promtool check metrics` accepts. A few dozen series rendered from plain counters need no exporter package
/// (prometheus-net would bring its own registry, a background collector and reflection the trimmer has to keep).</summary>
internal sealed class MetricsRegistry
{
    private readonly List<IMetricFamily> _families = [];
    private readonly List<Action> _beforeCollect = [];

    public MetricFamily<Counter> Counter(string name, string help, params string[] labels) =>
        Add(new MetricFamily<Counter>(name, help, "counter", labels, () => new Counter()));

    public MetricFamily<Gauge> Gauge(string name, string help, params string[] labels) =>
        Add(new MetricFamily<Gauge>(name, help, "gauge", labels, () => new Gauge()));

    /// <summary>A counter whose value is read from elsewhere at scrape time (CPU seconds).</summary>
    public MetricFamily<Gauge> SampledCounter(string name, string help, params string[] labels) =>
        Add(new MetricFamily<Gauge>(name, help, "counter", labels, () => new Gauge()));

    public MetricFamily<Histogram> Histogram(string name, string help, double[] bounds, params string[] labels) =>
        Add(new MetricFamily<Histogram>(name, help, "histogram", labels, () => new Histogram(bounds)));

    /// <summary>Runs before each scrape, for values read on demand (process memory, certificate expiry).</summary>
    public void OnCollect(Action update)
    {
        lock (_beforeCollect)
        {
            _beforeCollect.Add(update);
        }
    }

    public string Render()
    {
        lock (_beforeCollect)
        {
            foreach (var update in _beforeCollect)
            {
                update();
            }
        }

        var text = new StringBuilder();
        IMetricFamily[] families;
        lock (_families)
        {
            families = [.. _families];
        }

        foreach (var family in families)
        {
            text.Append("# HELP ").Append(family.Name).Append(' ').Append(Escape(family.Help, help: true)).Append('\n');
            text.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type).Append('\n');
            foreach (var (labels, series) in family.Series)
            {
                switch (series)
                {
                    case Counter counter:
                        Line(text, family.Name, family.LabelNames, labels.Values, null, counter.Value);
                        break;
                    case Gauge gauge:
                        Line(text, family.Name, family.LabelNames, labels.Values, null, gauge.Value);
                        break;
                    case Histogram histogram:
                        var cumulative = histogram.CumulativeCounts();
                        for (var i = 0; i < histogram.Bounds.Count; i++)
                        {
                            Line(text, family.Name + "_bucket", family.LabelNames, labels.Values, ("le", Number(histogram.Bounds[i])), cumulative[i]);
                        }

                        Line(text, family.Name + "_bucket", family.LabelNames, labels.Values, ("le", "+Inf"), histogram.Count);
                        Line(text, family.Name + "_sum", family.LabelNames, labels.Values, null, histogram.Sum);
                        Line(text, family.Name + "_count", family.LabelNames, labels.Values, null, histogram.Count);
                        break;
                }
            }
        }

        return text.ToString();
    }

    private T Add<T>(T family) where T : IMetricFamily
    {
        lock (_families)
        {
            if (_families.Any(f => f.Name == family.Name))
            {
                throw new InvalidOperationException($"metric {family.Name} registered twice");
            }

            _families.Add(family);
        }

        return family;
    }

    private static void Line(StringBuilder text, string name, IReadOnlyList<string> labelNames, IReadOnlyList<string> values, (string Name, string Value)? extra, double value)
    {
        text.Append(name);
        if (labelNames.Count > 0 || extra is not null)
        {
            text.Append('{');
            for (var i = 0; i < labelNames.Count; i++)
            {
                text.Append(i == 0 ? "" : ",").Append(labelNames[i]).Append("=\"").Append(Escape(values[i], help: false)).Append('"');
            }

            if (extra is { } e)
            {
                text.Append(labelNames.Count == 0 ? "" : ",").Append(e.Name).Append("=\"").Append(e.Value).Append('"');
            }

            text.Append('}');
        }

        text.Append(' ').Append(Number(value)).Append('\n');
    }

    private static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string Escape(string value, bool help)
    {
        var escaped = value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
        return help ? escaped : escaped.Replace("\"", "\\\"", StringComparison.Ordinal);
    }
}
