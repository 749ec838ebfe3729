namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>The threat model's promises about an inspecting firewall (DESIGN.md), as assertions over a
/// <see cref="FirewallView"/>. Messages carry the offending frames and the capture's flows.</summary>
internal static class FirewallAssert
{
    /// <summary>Every IPv4 frame is TCP between the site and the tunnel-server's address, port 443, either way; the
    /// only other frames are ARP (the firewall's own neighbours). Unless <paramref name="attemptsOnly"/>, at least one
    /// connection carried data.</summary>
    public static void OnlyTunnelConnections(FirewallView view, FirewalledNetwork network, bool attemptsOnly = false)
    {
        var site = network.SiteAddress.ToString();
        var cloud = network.CloudAddress.ToString();
        var others = view.Frames.Where(f => f.IsIpv4
                ? !(f.IpProtocol == CapturedFrame.Tcp &&
                    ((f.Source == site && f.Destination == cloud && f.DestinationPort == FirewalledNetwork.TunnelPort) ||
                        (f.Source == cloud && f.Destination == site && f.SourcePort == FirewalledNetwork.TunnelPort)))
                : f.EtherType != CapturedFrame.Arp)
            .ToList();
        Assert.True(others.Count == 0,
            $"{view.Name}: {others.Count} frames other than TCP {site} <-> {cloud}:{FirewalledNetwork.TunnelPort} or ARP, e.g.\n" +
            $"{string.Join('\n', others.Take(10))}\n{view.DescribeFlows()}");
        if (!attemptsOnly)
        {
            Assert.True(view.StreamsWithPayload.Count > 0, $"{view.Name}: no TCP connection carried data\n{view.DescribeFlows()}");
        }
    }

    /// <summary>Every connection that carried data is TLS 1.3 from its first byte: a ClientHello offering only TLS
    /// 1.3 opens it, every ServerHello selects TLS 1.3, and every record after the hellos is encrypted. What a
    /// firewall can read is then the ClientHello and ServerHello and nothing else: no certificate (TLS 1.3 encrypts
    /// it), no plaintext alert, no application byte outside a TLS record.</summary>
    public static void OnlyTls13(FirewallView view)
    {
        var context = $"\n{view.DescribeFlows()}";
        Assert.True(view.ClientHellos.Count > 0, $"{view.Name}: no ClientHello{context}");
        foreach (var hello in view.ClientHellos)
        {
            Assert.True(hello.SupportedVersions.SequenceEqual(["0x0304"]), $"{view.Name}: a ClientHello offers more than TLS 1.3: {hello}");
        }

        Assert.True(view.ServerHellos.Count > 0, $"{view.Name}: no ServerHello{context}");
        foreach (var hello in view.ServerHellos)
        {
            // RFC 8446 section 4.1.3: TLS 1.3 is selected in supported_versions; legacy_version stays TLS 1.2.
            Assert.True(hello.SelectedVersion == "0x0304" && hello.LegacyVersion == "0x0303", $"{view.Name}: a ServerHello did not select TLS 1.3: {hello}");
        }

        var opened = view.ClientHellos.Select(h => h.Stream).ToHashSet();
        var answered = view.ServerHellos.Select(h => h.Stream).ToHashSet();
        foreach (var stream in view.StreamsWithPayload)
        {
            Assert.True(opened.Contains(stream), $"{view.Name}: TCP stream {stream} carried data without a ClientHello{context}");
        }

        // A stream the server sent data on must have been answered with a TLS 1.3 ServerHello first.
        var serverSpoke = view.Frames.Where(f => f.TcpLength > 0 && f.SourcePort == FirewalledNetwork.TunnelPort && f.Stream is not null)
            .Select(f => f.Stream!.Value).ToHashSet();
        Assert.True(serverSpoke.IsSubsetOf(answered), $"{view.Name}: streams {string.Join(',', serverSpoke.Except(answered))} carried server data " +
            $"without a ServerHello{context}");

        var plaintext = view.Records.Where(r =>
                r.ContentTypes.Any(t => t is not (20 or 22)) || r.HandshakeTypes.Any(t => t is not (1 or 2)) || r.OpaqueTypes.Any(t => t != 23))
            .ToList();
        Assert.True(plaintext.Count == 0, $"{view.Name}: records a firewall can read beyond the hellos:\n{string.Join('\n', plaintext.Take(10))}");

        // The same independently of tshark's dissector: every byte each side sent is inside a TLS record, and the
        // only records in clear are the hellos (and the compatibility change_cipher_spec, RFC 8446 appendix D.4).
        foreach (var direction in view.Directions)
        {
            var (records, error) = TlsRecordLayer.Parse(direction.Payload);
            Assert.True(error is null, $"{view.Name}: {direction} is not a TLS record stream: {error}");
            var fromServer = direction.From.EndsWith($":{FirewalledNetwork.TunnelPort}", StringComparison.Ordinal);
            Assert.True(records.Count > 0 && records[0] is { ContentType: 22 } first && first.HandshakeType == (fromServer ? 2 : 1),
                $"{view.Name}: {direction} does not open with a {(fromServer ? "ServerHello" : "ClientHello")}: {string.Join(", ", records.Take(3))}");
            var readable = records.Where(r => r.ContentType != 23 && !(r.ContentType == 22 && r.HandshakeType is 1 or 2) && r.ContentType != 20).ToList();
            Assert.True(readable.Count == 0, $"{view.Name}: {direction} has records a firewall can read: {string.Join(", ", readable)}");
        }
    }

    /// <summary><paramref name="text"/> appears nowhere: raw bytes, stream payloads, -x buffers, -V fields.</summary>
    public static void NeverShows(FirewallView view, string text)
    {
        var places = view.WhereTextAppears(text);
        Assert.True(places.Count == 0, $"'{text}' is visible to the firewall:\n{string.Join('\n', places.Take(20))}");
    }

    /// <summary>The control for <see cref="NeverShows"/>: <paramref name="text"/> (a name known to be on the wire in
    /// clear) is found by every one of the searches, so an empty result means absent, not unsearched.</summary>
    public static void ShowsEverywhere(FirewallView view, string text)
    {
        var places = view.WhereTextAppears(text);
        foreach (var kind in new[] { "raw pcap bytes", "tcp stream", "tshark -x", "tshark -V" })
        {
            Assert.True(places.Any(p => p.Contains($": {kind}", StringComparison.Ordinal)),
                $"{view.Name}: the search for '{text}' in {kind} found nothing; it was found in:\n{string.Join('\n', places)}");
        }
    }
}
