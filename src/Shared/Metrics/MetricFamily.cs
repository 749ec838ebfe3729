using System.Collections.Concurrent;

namespace Tunnel.Metrics;

/// <summary>One metric name with its help text, type and one series per distinct label set.</summary>
internal sealed class MetricFamily<T>(string name, string help, string type, string[] labelNames, Func<T> create)
    : IMetricFamily where T : class
{
    private readonly ConcurrentDictionary<LabelValues, T> _series = new();

    public string Name => name;

    public string Help => help;

    public string Type => type;

    public IReadOnlyList<string> LabelNames => labelNames;

    /// <summary>The series for these label values (created on first use). Callers on hot paths keep the result.</summary>
    public T WithLabels(params string[] values)
    {
        if (values.Length != labelNames.Length)
        {
            throw new ArgumentException($"{name} takes {labelNames.Length} labels", nameof(values));
        }

        return _series.GetOrAdd(new LabelValues(values), _ => create());
    }

    public IEnumerable<(LabelValues Labels, object Series)> Series =>
        _series.OrderBy(s => s.Key.ToString(), StringComparer.Ordinal).Select(s => (s.Key, (object)s.Value));
}

internal interface IMetricFamily
{
    string Name { get; }

    string Help { get; }

    string Type { get; }

    IReadOnlyList<string> LabelNames { get; }

    IEnumerable<(LabelValues Labels, object Series)> Series { get; }
}

/// <summary>Label values compared by content.</summary>
internal sealed class LabelValues(string[] values) : IEquatable<LabelValues>
{
    private readonly string[] _values = values;

    public IReadOnlyList<string> Values => _values;

    public bool Equals(LabelValues? other) => other is not null && _values.AsSpan().SequenceEqual(other._values);

    public override bool Equals(object? obj) => Equals(obj as LabelValues);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var value in _values)
        {
            hash.Add(value, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }

    public override string ToString() => string.Join('\u0001', _values);
}
