using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tunnel.Net.ProxyProtocol;

/// <summary>Parses the PROXY protocol header a load balancer puts in front of a connection, versions 1 and 2, as
/// specified in https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt. Pure: it looks at the bytes received so
/// far and says whether they hold a whole header, the beginning of one, or something to refuse.</summary>
internal static class ProxyHeaderParser
{
    /// <summary>The longest v1 line, CRLF included (§2.1: "PROXY UNKNOWN" with two full IPv6 addresses).</summary>
    public const int MaxV1Length = 107;

    /// <summary>The fixed part of a v2 header: signature, version and command, family, length.</summary>
    public const int V2FixedLength = 16;

    /// <summary>The longest header accepted. A v2 header may declare up to 64 KiB of addresses and TLVs; real load
    /// balancers send well under 300 bytes (AWS NLB and GCP add an endpoint id, HAProxy at most a few SSL fields), so
    /// 4 KiB bounds the memory a connection can make the server hold before it has proved anything.</summary>
    public const int MaxLength = 4096;

    private const int CommandLocal = 0x0;
    private const int CommandProxy = 0x1;
    private const int FamilyUnspec = 0x0;
    private const int FamilyInet = 0x1;
    private const int FamilyInet6 = 0x2;
    private const int FamilyUnix = 0x3;
    private const int TransportStream = 0x1;

    /// <summary>§2.2: 12 bytes that no common protocol starts with, including a NUL.</summary>
    public static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>§2.1: "PROXY" and exactly one space.</summary>
    public static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    /// <summary>Looks for a header at the start of <paramref name="data"/>. <see cref="ProxyParseStatus.Incomplete"/> is
    /// only returned while fewer than <see cref="MaxLength"/> bytes are given, so a caller reading into a buffer of that
    /// size always reaches a verdict.</summary>
    public static ProxyParseStatus TryParse(ReadOnlySpan<byte> data, ProxyProtocolMode accept, out ProxyHeader? header, out string error)
    {
        header = null;
        error = "";
        if (accept == ProxyProtocolMode.Off)
        {
            throw new ArgumentOutOfRangeException(nameof(accept), "no header is expected");
        }

        if (data.IsEmpty)
        {
            return ProxyParseStatus.Incomplete;
        }

        var isV2 = StartsLike(data, V2Signature);
        var isV1 = StartsLike(data, V1Prefix);
        if (isV2 && accept is ProxyProtocolMode.V2 or ProxyProtocolMode.Any)
        {
            return ParseV2(data, out header, out error);
        }

        if (isV1 && accept is ProxyProtocolMode.V1 or ProxyProtocolMode.Any)
        {
            return ParseV1(data, out header, out error);
        }

        error = isV2 || isV1
            ? $"a PROXY protocol {(isV2 ? "v2" : "v1")} header, but this listener accepts {(accept == ProxyProtocolMode.V1 ? "v1" : "v2")} only (check proxyProtocol against the load balancer's setting)"
            : $"no PROXY protocol header: the connection starts with {Describe(data)}";
        return ProxyParseStatus.Invalid;
    }

    /// <summary>True when <paramref name="data"/> agrees with <paramref name="prefix"/> for as long as either lasts.</summary>
    private static bool StartsLike(ReadOnlySpan<byte> data, ReadOnlySpan<byte> prefix)
    {
        var n = Math.Min(data.Length, prefix.Length);
        return data[..n].SequenceEqual(prefix[..n]);
    }

    private static ProxyParseStatus ParseV2(ReadOnlySpan<byte> data, out ProxyHeader? header, out string error)
    {
        header = null;
        error = "";
        if (data.Length < V2FixedLength)
        {
            return ProxyParseStatus.Incomplete;
        }

        var version = data[12] >> 4;
        var command = data[12] & 0x0F;
        if (version != 2)
        {
            return Invalid(out error, $"PROXY v2 header with version {version} (only 2 exists)");
        }

        if (command is not (CommandLocal or CommandProxy))
        {
            return Invalid(out error, $"PROXY v2 header with unknown command 0x{command:X}");
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
        if (V2FixedLength + length > MaxLength)
        {
            return Invalid(out error, $"PROXY v2 header declares {length} bytes of addresses and TLVs, more than the {MaxLength - V2FixedLength} accepted");
        }

        if (data.Length < V2FixedLength + length)
        {
            return ProxyParseStatus.Incomplete;
        }

        var total = V2FixedLength + length;
        if (command == CommandLocal)
        {
            // §2.2: for LOCAL the receiver uses the real endpoints and ignores the family and the address block,
            // whatever length it declares.
            header = new ProxyHeader(ProxyProtocolVersion.V2, null, null, total, IsLocal: true);
            return ProxyParseStatus.Complete;
        }

        var family = data[13] >> 4;
        var transport = data[13] & 0x0F;
        if (family > FamilyUnix || transport > 2 || (family == FamilyUnspec) != (transport == 0))
        {
            return Invalid(out error, $"PROXY v2 header with unknown address family and protocol 0x{data[13]:X2}");
        }

        var addressLength = family switch
        {
            FamilyInet => 12,
            FamilyInet6 => 36,
            FamilyUnix => 216,
            _ => 0,
        };
        if (length < addressLength)
        {
            return Invalid(out error, $"PROXY v2 header too short for its addresses ({length} bytes, family 0x{data[13]:X2} needs {addressLength})");
        }

        // What follows the addresses is TLVs (ALPN, authority, AWS or GCP endpoint ids...). None of them changes who
        // the client is, and the specification lets a receiver skip them; the length bound above keeps that cheap.
        var block = data[V2FixedLength..total];
        if (transport != TransportStream || family is FamilyUnspec or FamilyUnix)
        {
            // UNSPEC, UDP and UNIX: "a receiver ... automatically falls back to the UNSPEC mode" (§2.2).
            header = new ProxyHeader(ProxyProtocolVersion.V2, null, null, total);
            return ProxyParseStatus.Complete;
        }

        var size = family == FamilyInet ? 4 : 16;
        var source = new IPAddress(block[..size]);
        var destination = new IPAddress(block.Slice(size, size));
        var sourcePort = BinaryPrimitives.ReadUInt16BigEndian(block[(2 * size)..]);
        var destinationPort = BinaryPrimitives.ReadUInt16BigEndian(block[(2 * size + 2)..]);
        header = new ProxyHeader(ProxyProtocolVersion.V2, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), total);
        return ProxyParseStatus.Complete;
    }

    private static ProxyParseStatus ParseV1(ReadOnlySpan<byte> data, out ProxyHeader? header, out string error)
    {
        header = null;
        error = "";
        var window = data[..Math.Min(data.Length, MaxV1Length)];
        var lf = window.IndexOf((byte)'\n');
        var end = lf < 0 ? window.Length : lf;

        // §2.1: US-ASCII text; a CR anywhere but right before the LF, or a control byte, is garbage.
        for (var i = 0; i < end; i++)
        {
            var b = window[i];
            if (b == '\r' && i == end - 1)
            {
                continue;
            }

            if (b is < 0x20 or > 0x7E)
            {
                return Invalid(out error, $"PROXY v1 header with a non-text byte 0x{b:X2} at offset {i}");
            }
        }

        if (lf < 0)
        {
            return window.Length >= MaxV1Length
                ? Invalid(out error, $"PROXY v1 header without CRLF in its first {MaxV1Length} bytes")
                : ProxyParseStatus.Incomplete;
        }

        if (lf == 0 || window[lf - 1] != '\r')
        {
            return Invalid(out error, "PROXY v1 header ends with a bare LF instead of CRLF");
        }

        var line = Encoding.ASCII.GetString(window[V1Prefix.Length..(lf - 1)]);
        var fields = line.Split(' ');
        var length = lf + 1;
        switch (fields[0])
        {
            case "UNKNOWN":
                // §2.1: the receiver ignores the rest of the line and keeps the real endpoints.
                header = new ProxyHeader(ProxyProtocolVersion.V1, null, null, length);
                return ProxyParseStatus.Complete;
            case "TCP4" or "TCP6":
                break;
            default:
                return Invalid(out error, $"PROXY v1 header with unknown protocol '{Printable(fields[0])}' (TCP4, TCP6 or UNKNOWN)");
        }

        if (fields.Length != 5)
        {
            return Invalid(out error, $"PROXY v1 header '{Printable(line)}' does not have exactly four fields after {fields[0]}, separated by single spaces");
        }

        var family = fields[0] == "TCP4" ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        if (!TryParseAddress(fields[1], family, out var source) || !TryParseAddress(fields[2], family, out var destination))
        {
            return Invalid(out error, $"PROXY v1 header '{Printable(line)}' has an address that is not a canonical {fields[0]} address");
        }

        if (!TryParsePort(fields[3], out var sourcePort) || !TryParsePort(fields[4], out var destinationPort))
        {
            return Invalid(out error, $"PROXY v1 header '{Printable(line)}' has a port that is not a decimal number from 0 to 65535");
        }

        header = new ProxyHeader(ProxyProtocolVersion.V1, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), length);
        return ProxyParseStatus.Complete;
    }

    /// <summary>§2.1: IPv4 as four decimal numbers without leading zeros (no octal ambiguity); IPv6 in colon-hex
    /// form, which may end in a dotted quad (HAProxy writes IPv4-mapped addresses that way).</summary>
    private static bool TryParseAddress(string text, AddressFamily family, out IPAddress address)
    {
        address = IPAddress.None;
        if (family == AddressFamily.InterNetwork)
        {
            var parts = text.Split('.');
            if (parts.Length != 4 || !parts.All(p => IsCanonicalNumber(p, 255)))
            {
                return false;
            }

            address = new IPAddress(parts.Select(p => byte.Parse(p, CultureInfo.InvariantCulture)).ToArray());
            return true;
        }

        if (text.Length == 0 || !text.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.') || !text.Contains(':', StringComparison.Ordinal) ||
            !IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        address = parsed;
        return true;
    }

    private static bool TryParsePort(string text, out int port)
    {
        port = 0;
        if (!IsCanonicalNumber(text, 65535))
        {
            return false;
        }

        port = int.Parse(text, CultureInfo.InvariantCulture);
        return true;
    }

    private static bool IsCanonicalNumber(string text, int max) =>
        text.Length is >= 1 and <= 5 && text.All(char.IsAsciiDigit) && (text.Length == 1 || text[0] != '0') &&
        int.Parse(text, CultureInfo.InvariantCulture) <= max;

    private static ProxyParseStatus Invalid(out string error, string message)
    {
        error = message;
        return ProxyParseStatus.Invalid;
    }

    /// <summary>What a connection sent instead of a header, for the log line that says why it was dropped.</summary>
    private static string Describe(ReadOnlySpan<byte> data)
    {
        if (data[0] == 0x16)
        {
            return "a TLS handshake record (the client reached this port without going through the load balancer, or the balancer does not send PROXY headers)";
        }

        var head = data[..Math.Min(data.Length, 16)];
        var text = true;
        foreach (var b in head)
        {
            text &= b is >= 0x20 and <= 0x7E or (byte)'\r' or (byte)'\n';
        }

        return text
            ? $"'{Printable(Encoding.ASCII.GetString(head))}'"
            : $"bytes {Convert.ToHexString(head)}";
    }

    private static string Printable(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text.Length > 60 ? text[..60] + "..." : text)
        {
            builder.Append(c switch
            {
                '\r' => "\\r",
                '\n' => "\\n",
                >= ' ' and <= '~' => c.ToString(),
                _ => "?",
            });
        }

        return builder.ToString();
    }
}
