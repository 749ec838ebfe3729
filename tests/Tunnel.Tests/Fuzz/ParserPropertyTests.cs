using System.Net;
using System.Text;
using FsCheck;
using FsCheck.Xunit;
using Tunnel.Common;
using Tunnel.Fuzz;
using Tunnel.Http;
using Tunnel.Mux;
using Tunnel.Net;
using Tunnel.Net.ProxyProtocol;
using Tunnel.Tests.Architecture;

namespace Tunnel.Tests.Fuzz;

/// <summary>Property tests of the parsers of untrusted bytes: what is written parses back to the same value, and any
/// bytes (FsCheck's, and mutations of the fuzz corpus) give a value or the documented refusal, never another
/// exception. The checks are the fuzz targets' own (fuzz/Tunnel.Fuzz/Targets). Each property runs a bounded number of
/// cases; the parsers are synchronous and bounded, and the suite's hang timeout covers the rest.</summary>
public sealed class ParserPropertyTests
{
    private static readonly string Root = NamespaceGraph.FindRepositoryRoot();

    [Property(MaxTest = 500)]
    public bool A_PROXY_header_written_then_read_gives_back_its_addresses(uint a, uint b, ushort sourcePort, ushort destinationPort,
        Guid g1, Guid g2, bool v2, bool ipv6)
    {
        var source = new IPEndPoint(ipv6 ? new IPAddress(g1.ToByteArray()) : new IPAddress(a), sourcePort);
        var destination = new IPEndPoint(ipv6 ? new IPAddress(g2.ToByteArray()) : new IPAddress(b), destinationPort);
        var version = v2 ? ProxyProtocolVersion.V2 : ProxyProtocolVersion.V1;
        var written = ProxyHeaderWriter.Build(version, source, destination);

        // Followed by the TLS bytes that come after it on the wire.
        var wire = written.Concat("\x16\x03\x01"u8.ToArray()).ToArray();
        var status = ProxyHeaderParser.TryParse(wire, ProxyProtocolMode.Any, out var header, out _);
        return status == ProxyParseStatus.Complete && header!.Version == version && header.Length == written.Length
            && header.Source!.Equals(Normalize(source)) && header.Destination!.Equals(Normalize(destination));
    }

    [Property(MaxTest = 2000)]
    public void Any_bytes_as_a_PROXY_header_give_a_verdict_never_an_exception(byte[] data) => FuzzTargets.ProxyHeader(data);

    [Property(MaxTest = 2000)]
    public void Any_bytes_as_a_first_request_are_sniffed_without_an_exception(byte[] data) => FuzzTargets.HttpSniff(data);

    [Property(MaxTest = 500)]
    public bool A_CONNECT_or_an_absolute_form_request_is_a_proxy_request(PositiveInt port, bool connect, byte method)
    {
        var methods = new[] { "GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH" };
        var line = connect
            ? $"CONNECT example.com:{port.Get % 65536} HTTP/1.1\r\n\r\n"
            : $"{methods[method % methods.Length]} http://example.com:{port.Get % 65536}/x HTTP/1.1\r\n\r\n";
        return ProxyRequest.IsProxyRequest(Encoding.ASCII.GetBytes(line))
            && !ProxyRequest.IsProxyRequest(Encoding.ASCII.GetBytes($"{methods[method % methods.Length]} /x HTTP/1.1\r\n\r\n"));
    }

    [Property(MaxTest = 1000)]
    public bool A_duration_formatted_then_parsed_is_the_same(PositiveInt milliseconds)
    {
        var value = TimeSpan.FromMilliseconds(milliseconds.Get);
        return Durations.TryParse(Durations.Format(value), allowDisabled: false, out var again) && again.Value == value;
    }

    [Property(MaxTest = 2000)]
    public void Any_text_as_a_duration_gives_a_verdict_never_an_exception(string? text) =>
        FuzzTargets.Duration(Encoding.UTF8.GetBytes(text ?? ""));

    [Property(MaxTest = 500)]
    public bool A_host_port_written_then_read_is_the_same(byte a, byte b, byte c, byte d, Guid g, ushort port, int kind)
    {
        var host = (kind & 3) switch
        {
            0 => $"{a}.{b}.{c}.{d}",
            1 => new IPAddress(g.ToByteArray()).ToString(),
            2 => $"h{a}-{b}.example{c}.test",
            _ => "",
        };
        var value = new HostPort(host, port);
        return HostPort.TryParse(value.ToString(), out var again, out _) && again.Value == value;
    }

    [Property(MaxTest = 2000)]
    public void Any_text_as_host_port_gives_a_verdict_never_an_exception(string? text) =>
        FuzzTargets.HostPortText(Encoding.UTF8.GetBytes(text ?? ""));

    [Property(MaxTest = 300)]
    public void Any_bytes_as_a_CRL_give_a_list_or_a_load_error(byte[] data) => FuzzTargets.Crl(data);

    [Property(MaxTest = 500)]
    public bool A_frame_header_written_then_read_is_the_same(byte type, ushort length, uint streamId)
    {
        var header = new byte[MuxProtocol.HeaderSize];
        MuxProtocol.WriteHeader(header, (MuxFrameType)type, length, streamId);
        return MuxProtocol.ReadHeader(header) == ((MuxFrameType)type, length, streamId) && !MuxProtocol.StartsWithPreamble(header.AsSpan(0, 7));
    }

    /// <summary>FsCheck picks the seed; the fuzz corpus's own mutator makes the input from a committed seed file.</summary>
    [Property(MaxTest = 300)]
    public void Mutations_of_the_corpus_give_a_verdict_never_an_exception(int seed)
    {
        var mutator = new Mutator(seed);
        foreach (var target in new[] { "proxy-header", "http-sniff", "duration", "host-port", "crl", "admin-request" })
        {
            var corpus = Directory.GetFiles(Path.Combine(Root, "fuzz", "corpus", target));
            var input = mutator.Mutate(File.ReadAllBytes(corpus[mutator.Next(corpus.Length)]), File.ReadAllBytes(corpus[mutator.Next(corpus.Length)]));
            FuzzTargets.All[target](input);
        }
    }

    /// <summary>The frame reader and the preamble check run a TLS session per input, so a few dozen mutations here;
    /// scripts/fuzz.sh does the volume.</summary>
    [Fact(Timeout = 240_000)]
    public async Task Mutated_frames_and_preamble_answers_end_the_session_cleanly_or_with_a_protocol_error()
    {
        var mutator = new Mutator(19);
        foreach (var target in new[] { "mux-frames", "mux-preamble" })
        {
            var corpus = Directory.GetFiles(Path.Combine(Root, "fuzz", "corpus", target));
            for (var i = 0; i < 25; i++)
            {
                var input = mutator.Mutate(await File.ReadAllBytesAsync(corpus[mutator.Next(corpus.Length)]), []);
                var failure = await Task.Run(() => Record.Exception(() => FuzzTargets.All[target](input)));
                Assert.True(failure is null, $"{target} on {Convert.ToHexString(input)}: {failure}");
            }
        }
    }

    private static IPEndPoint Normalize(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endpoint.Address.MapToIPv4(), endpoint.Port) : endpoint;
}
