using System.Globalization;
using System.Net;

namespace Tunnel.Bench;

/// <summary>'--name value' pairs; every option must be consumed by the command, so typos fail.</summary>
internal sealed class BenchArgs
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public static BenchArgs Parse(ReadOnlySpan<string> args)
    {
        var result = new BenchArgs();
        for (var i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected '--option value', got '{args[i]}'");
            }

            result._values[args[i][2..]] = args[i + 1];
        }

        return result;
    }

    public string? Text(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var v) ? v : null;
    }

    public string Required(string name) => Text(name) ?? throw new ArgumentException($"--{name} is required");

    public int Int(string name, int fallback) =>
        Text(name) is { } v ? int.Parse(v, NumberStyles.Integer, CultureInfo.InvariantCulture) : fallback;

    public double Double(string name, double fallback) =>
        Text(name) is { } v ? double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture) : fallback;

    public bool Bool(string name, bool fallback) => Text(name) is { } v ? bool.Parse(v) : fallback;

    /// <summary>A loopback endpoint; anything else is refused (the benchmark never leaves the machine).</summary>
    public IPEndPoint Loopback(string name)
    {
        var text = Required(name);
        var endpoint = IPEndPoint.Parse(text);
        if (!IPAddress.IsLoopback(endpoint.Address))
        {
            throw new ArgumentException($"--{name} {text}: only loopback addresses are allowed");
        }

        return endpoint;
    }

    public void ThrowIfUnused()
    {
        var unused = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unused.Count > 0)
        {
            throw new ArgumentException($"unknown option(s): {string.Join(", ", unused.Select(u => "--" + u))}");
        }
    }
}
