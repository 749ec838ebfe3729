using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>Reads a pcap file with tshark: -T fields rows for assertions, and the -V (every dissected field) and -x
/// (hex of every frame and of every reassembled buffer) text views for searching. Always with -n: tshark resolves no
/// names, so reading a capture makes no traffic.</summary>
internal static class Tshark
{
    /// <summary>One row per frame matching <paramref name="filter"/> (a display filter; null for every frame), one cell
    /// per field; a field occurring several times in a frame (two TLS records) is a comma-separated list.</summary>
    public static async Task<IReadOnlyList<string[]>> FieldsAsync(string pcap, string? filter, IReadOnlyList<string> fields, ITestOutputHelper output,
        CancellationToken deadline)
    {
        List<string> arguments = ["-r", pcap, "-n", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"];
        if (filter is not null)
        {
            arguments.AddRange(["-Y", filter]);
        }

        foreach (var field in fields)
        {
            arguments.AddRange(["-e", field]);
        }

        var text = await ShortCommand.RunAsync(RequiredTool.Tshark, arguments, output, deadline);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line =>
            {
                var cells = line.TrimEnd('\r').Split('\t');
                return cells.Length >= fields.Count ? cells : [.. cells, .. Enumerable.Repeat("", fields.Count - cells.Length)];
            })
            .ToList();
    }

    /// <summary>The whole capture as tshark prints it with <paramref name="option"/> (-V or -x).</summary>
    public static Task<string> TextAsync(string pcap, string option, ITestOutputHelper output, CancellationToken deadline) =>
        ShortCommand.RunAsync(RequiredTool.Tshark, ["-r", pcap, "-n", option], output, deadline);

    /// <summary>The byte buffers of a -x dump: one per frame and one per reassembled PDU (a TLS record or an HTTP
    /// message spread over several TCP segments), each starting at offset 0000.</summary>
    public static IReadOnlyList<byte[]> HexDumpBuffers(string hexDump)
    {
        const int HexWidth = (16 * 3) - 1;
        var buffers = new List<byte[]>();
        var current = new List<byte>();
        foreach (var line in hexDump.Split('\n'))
        {
            var space = line.IndexOf("  ", StringComparison.Ordinal);
            if (space < 4 || !IsHex(line.AsSpan(0, space)))
            {
                continue;
            }

            if (Convert.ToInt64(line[..space], 16) == 0 && current.Count > 0)
            {
                buffers.Add([.. current]);
                current.Clear();
            }

            var hex = line.AsSpan(space + 2, Math.Min(HexWidth, line.Length - space - 2)).ToString();
            foreach (var token in hex.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (token.Length == 2 && IsHex(token))
                {
                    current.Add(Convert.ToByte(token, 16));
                }
            }
        }

        if (current.Count > 0)
        {
            buffers.Add([.. current]);
        }

        return buffers;
    }

    /// <summary>A tshark "bytes" field (tcp.payload) as bytes; tshark 4.0 prints hex, older ones with colons.</summary>
    public static byte[] Bytes(string field) => Convert.FromHexString(field.Replace(":", "", StringComparison.Ordinal));

    private static bool IsHex(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return text.Length > 0;
    }
}
