using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>Everything a firewall can learn from one capture, read once with tshark: every frame, every ClientHello
/// and ServerHello, every TLS record header, the TCP payload of each direction of each stream (reassembled by sequence
/// number, so a name split across segments is still found), and the -V and -x text views. Search functions
/// look through all of these, and the raw pcap bytes as well.</summary>
internal sealed class FirewallView
{
    // One -T fields run reads everything per frame; hello and record fields are empty in frames without them.
    private static readonly string[] Fields =
    [
        "frame.number", "eth.type", "ip.src", "ip.dst", "ip.proto", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "tcp.stream",
        "tcp.len", "frame.protocols", "tcp.seq", "tcp.payload", "tls.handshake.type", "tls.handshake.extensions_server_name",
        "tls.handshake.extensions_alpn_str", "tls.handshake.extensions.supported_version", "tls.handshake.extension.type", "tls.handshake.version",
        "tls.record.content_type", "tls.record.opaque_type", "tls.record.length",
    ];

    private readonly byte[] _raw;
    private readonly IReadOnlyList<byte[]> _hexDumpBuffers;

    private FirewallView(string name, string path, byte[] raw, IReadOnlyList<CapturedFrame> frames, IReadOnlyList<ClientHelloSeen> clientHellos,
        IReadOnlyList<ServerHelloSeen> serverHellos, IReadOnlyList<TlsRecordsSeen> records, IReadOnlyList<StreamDirection> directions,
        string verbose, IReadOnlyList<byte[]> hexDumpBuffers)
    {
        Name = name;
        PcapPath = path;
        _raw = raw;
        Frames = frames;
        ClientHellos = clientHellos;
        ServerHellos = serverHellos;
        Records = records;
        Directions = directions;
        Verbose = verbose;
        _hexDumpBuffers = hexDumpBuffers;
    }

    /// <summary>Which capture this is, for messages ("cloud-facing").</summary>
    public string Name { get; }

    public string PcapPath { get; }

    public IReadOnlyList<CapturedFrame> Frames { get; }

    public IReadOnlyList<ClientHelloSeen> ClientHellos { get; }

    public IReadOnlyList<ServerHelloSeen> ServerHellos { get; }

    public IReadOnlyList<TlsRecordsSeen> Records { get; }

    /// <summary>What each side of each TCP connection sent, reassembled by sequence number.</summary>
    public IReadOnlyList<StreamDirection> Directions { get; }

    /// <summary>tshark -V: every field of every frame it could dissect.</summary>
    public string Verbose { get; }

    public IEnumerable<CapturedFrame> IpFrames => Frames.Where(f => f.IsIpv4);

    /// <summary>TCP streams that carried at least one byte of payload.</summary>
    public IReadOnlySet<int> StreamsWithPayload =>
        Frames.Where(f => f.Stream is not null && f.TcpLength > 0).Select(f => f.Stream!.Value).ToHashSet();

    public static async Task<FirewallView> ReadAsync(string name, string pcap, ITestOutputHelper output, CancellationToken deadline)
    {
        // Three tshark runs, at the same time: tshark spends most of its time starting up.
        var rowsTask = Tshark.FieldsAsync(pcap, null, Fields, output, deadline);
        var verboseTask = Tshark.TextAsync(pcap, "-V", output, deadline);
        var hexDumpTask = Tshark.TextAsync(pcap, "-x", output, deadline);
        await Task.WhenAll(rowsTask, verboseTask, hexDumpTask);
        var rows = await rowsTask;

        var frames = rows.Select(r => new CapturedFrame(
            Int(r[0]) ?? 0, r[1], r[2], r[3], r[4], Int(r[5]) ?? Int(r[7]), Int(r[6]) ?? Int(r[8]), Int(r[9]), Int(r[10]) ?? 0, r[11])).ToList();
        var clientHellos = rows.Where(r => Ints(r[14]).Contains(1)).Select(r => new ClientHelloSeen(
            Int(r[0]) ?? 0, Int(r[9]) ?? -1, r[3], Int(r[6]) ?? 0, r[15], r[16], List(r[17]), Ints(r[18]))).ToList();
        var serverHellos = rows.Where(r => Ints(r[14]).Contains(2)).Select(r => new ServerHelloSeen(
            Int(r[0]) ?? 0, Int(r[9]) ?? -1, r[17], r[19])).ToList();
        var records = rows.Where(r => r[11].Contains(":tls", StringComparison.Ordinal) && (r[20].Length > 0 || r[21].Length > 0)).Select(r =>
            new TlsRecordsSeen(Int(r[0]) ?? 0, Int(r[9]) ?? -1, r[2], Ints(r[20]), Ints(r[21]), Ints(r[14]), Ints(r[22]))).ToList();
        var directions = rows.Where(r => (Int(r[10]) ?? 0) > 0)
            .GroupBy(r => (Stream: Int(r[9]) ?? -1, From: $"{r[2]}:{r[5]}"))
            .Select(g => new StreamDirection(g.Key.Stream, g.Key.From,
                Reassemble(g.Select(r => (Seq: long.Parse(r[12], CultureInfo.InvariantCulture), Bytes: Tshark.Bytes(r[13]))))))
            .ToList();

        var hexDump = Tshark.HexDumpBuffers(await hexDumpTask);
        var raw = await File.ReadAllBytesAsync(pcap, deadline);
        return new FirewallView(name, pcap, raw, frames, clientHellos, serverHellos, records, directions, await verboseTask, hexDump);
    }

    /// <summary>Every place <paramref name="text"/> appears, ASCII case-insensitively (and as UTF-16 in the raw file):
    /// the raw pcap bytes, the payload of each direction of each TCP stream, the buffers of tshark -x (frames and
    /// reassembled PDUs), and the lines of tshark -V (decoded fields: SNI, certificate names, DNS queries, HTTP).</summary>
    public IReadOnlyList<string> WhereTextAppears(string text)
    {
        var places = new List<string>();
        var ascii = Encoding.ASCII.GetBytes(text.ToLowerInvariant());
        var utf16 = Encoding.Unicode.GetBytes(text.ToLowerInvariant());
        var raw = Lower(_raw);
        if (raw.AsSpan().IndexOf(ascii) is var at and >= 0)
        {
            places.Add($"{Name}: raw pcap bytes at offset {at}");
        }

        if (raw.AsSpan().IndexOf(utf16) is var at16 and >= 0)
        {
            places.Add($"{Name}: raw pcap bytes (UTF-16) at offset {at16}");
        }

        foreach (var direction in Directions)
        {
            if (Lower(direction.Payload).AsSpan().IndexOf(ascii) is var inStream and >= 0)
            {
                places.Add($"{Name}: {direction} at payload byte {inStream}");
            }
        }

        for (var i = 0; i < _hexDumpBuffers.Count; i++)
        {
            if (Lower(_hexDumpBuffers[i]).AsSpan().IndexOf(ascii) >= 0)
            {
                places.Add($"{Name}: tshark -x buffer {i}");
            }
        }

        places.AddRange(Verbose.Split('\n').Where(l => l.Contains(text, StringComparison.OrdinalIgnoreCase))
            .Select(l => $"{Name}: tshark -V: {l.Trim()}"));
        return places;
    }

    /// <summary>The distinct IPv4 conversations (protocol, client, server port) with frame counts; non-IP frames by
    /// EtherType. For messages and the test output.</summary>
    public string DescribeFlows()
    {
        var lines = Frames.GroupBy(f => f.IsIpv4 ? Flow(f) : $"ethertype {f.EtherType} [{f.Protocols}]")
            .Select(g => $"  {g.Key}: {g.Count()} frames, {g.Select(f => f.Stream).Distinct().Count(s => s is not null)} tcp streams");
        return $"{Name} capture ({Frames.Count} frames):\n{string.Join('\n', lines)}";
    }

    /// <summary>The first TLS records each way in every stream as type:length (22 handshake, 20 change_cipher_spec,
    /// 23 encrypted): what a firewall can learn about the traffic inside (the CONNECT line's length, the inner
    /// handshake's sizes), for the test output.</summary>
    public string DescribeRecordLengths(int perDirection = 10)
    {
        var lines = Directions.OrderBy(d => d.Stream).Select(d =>
        {
            var (records, error) = TlsRecordLayer.Parse(d.Payload);
            return $"  {d} ({d.Payload.Length} bytes): {string.Join(' ', records.Take(perDirection).Select(r => $"{r.ContentType}:{r.Length}"))}" +
                (records.Count > perDirection ? $" ... ({records.Count} records)" : "") + (error is null ? "" : $" !! {error}");
        });
        return $"{Name}: TLS records (type:length, first {perDirection} each way):\n{string.Join('\n', lines)}";
    }

    private static string Flow(CapturedFrame f)
    {
        // Name the conversation after its server side: the lower port is the service (443, 53).
        var (client, server, serverPort) = f.SourcePort is { } s && f.DestinationPort is { } d && s < d
            ? (f.Destination, f.Source, s)
            : (f.Source, f.Destination, f.DestinationPort);
        var protocol = f.IpProtocol switch { "1" => "icmp", "6" => "tcp", "17" => "udp", var other => $"ip proto {other}" };
        return $"{protocol} {client} <-> {server}:{serverPort}";
    }

    /// <summary>Segments in sequence order, each byte once: a retransmission adds nothing, an overlap only its new
    /// tail. A hole (a segment the capture missed) is left as a hole.</summary>
    private static byte[] Reassemble(IEnumerable<(long Seq, byte[] Bytes)> segments)
    {
        using var buffer = new MemoryStream();
        long? next = null;
        foreach (var (seq, bytes) in segments.OrderBy(s => s.Seq))
        {
            var skip = next is { } expected && seq < expected ? (int)Math.Min(expected - seq, bytes.Length) : 0;
            buffer.Write(bytes, skip, bytes.Length - skip);
            next = Math.Max(next ?? 0, seq + bytes.Length);
        }

        return buffer.ToArray();
    }

    private static byte[] Lower(byte[] bytes)
    {
        var lower = new byte[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            lower[i] = b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b + 32) : b;
        }

        return lower;
    }

    /// <summary>The first value of a cell ("6", "0x0304", "1,2"), or null when empty.</summary>
    private static int? Int(string cell)
    {
        var first = cell.Split(',')[0];
        return first.StartsWith("0x", StringComparison.Ordinal) ? Convert.ToInt32(first, 16)
            : int.TryParse(first, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
    }

    private static List<string> List(string cell) => [.. cell.Split(',', StringSplitOptions.RemoveEmptyEntries)];

    private static List<int> Ints(string cell) => [.. List(cell).Select(c => Int(c) ?? -1)];
}
