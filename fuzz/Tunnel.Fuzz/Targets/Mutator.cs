namespace Tunnel.Fuzz;

/// <summary>Random, not coverage-guided, mutation of a corpus entry: what the smoke run and the property tests use where
/// libFuzzer is unavailable. Deterministic for a seed.</summary>
internal sealed class Mutator(int seed)
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, (byte)' ', (byte)':', (byte)'\r', (byte)'\n', (byte)'[', (byte)']', 0x30, 0x0D, 0x0A];

    private readonly Random _random = new(seed);

    public int Next(int max) => _random.Next(max);

    public byte[] Mutate(byte[] input, byte[] other)
    {
        var data = new List<byte>(input);
        var rounds = 1 + _random.Next(4);
        for (var i = 0; i < rounds; i++)
        {
            switch (_random.Next(7))
            {
                case 0 when data.Count > 0:
                    var bit = _random.Next(data.Count * 8);
                    data[bit / 8] ^= (byte)(1 << (bit % 8));
                    break;
                case 1 when data.Count > 0:
                    data[_random.Next(data.Count)] = (byte)_random.Next(256);
                    break;
                case 2:
                    data.Insert(_random.Next(data.Count + 1), Interesting[_random.Next(Interesting.Length)]);
                    break;
                case 3 when data.Count > 0:
                    var at = _random.Next(data.Count);
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + _random.Next(8)));
                    break;
                case 4 when other.Length > 0:
                    var from = _random.Next(other.Length);
                    var length = Math.Min(other.Length - from, 1 + _random.Next(32));
                    data.InsertRange(_random.Next(data.Count + 1), other.AsSpan(from, length).ToArray());
                    break;
                case 5 when data.Count > 0:
                    var keep = _random.Next(data.Count);
                    data.RemoveRange(keep, data.Count - keep);
                    break;
                default:
                    var junk = new byte[1 + _random.Next(16)];
                    _random.NextBytes(junk);
                    data.InsertRange(_random.Next(data.Count + 1), junk);
                    break;
            }
        }

        return data.Count > 64 * 1024 ? data.GetRange(0, 64 * 1024).ToArray() : data.ToArray();
    }
}
