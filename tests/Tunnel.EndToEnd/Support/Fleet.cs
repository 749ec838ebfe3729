using System.Globalization;
using System.Net;
using Tunnel.Certs;
using Tunnel.Tests.Support;

namespace Tunnel.EndToEnd.Support;

/// <summary>Telling apart the tunnel-servers of a fleet from the client's side.</summary>
internal static class Fleet
{
    /// <summary>A server certificate for <see cref="ProxyChain.ServerName"/> (what tunnel-client verifies) whose CN is
    /// <paramref name="node"/>: tunnel-client logs the server certificate's CN on every connection it opens, so its log
    /// says which node carried each connection, even one that failed before any answer.</summary>
    public static (string Cert, string Key) IssueNodeCertificate(TestPki pki, string node) =>
        pki.Issue(new CertificateSpec(CertificateKind.Server, node, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1))
        {
            DnsNames = [ProxyChain.ServerName],
            IpAddresses = [IPAddress.Loopback],
        });

    /// <summary>Which node carried each of <paramref name="attempts"/>, from tunnel-client's open lines: the one whose
    /// peer is the attempt's local port, logged while the attempt ran (ports are reused, but never by two connections
    /// alive at once). Attempts that never got a tunnel are missing.</summary>
    public static Dictionary<LoadAttempt, string> NodesOf(TunnelProcess client, IEnumerable<LoadAttempt> attempts)
    {
        var opened = client.Events.Where(e => e.EventName == "ConnectionOpened")
            .Select(e => (Port: PortOf(e["Peer"] ?? ""), At: DateTimeOffset.Parse(e.At, CultureInfo.InvariantCulture), Node: NodeName(e["PeerIdentity"] ?? "")))
            .ToLookup(e => e.Port);
        var result = new Dictionary<LoadAttempt, string>();
        foreach (var attempt in attempts)
        {
            var end = attempt.StartedUtc + attempt.Elapsed + Slack;
            var match = opened[attempt.LocalPort].FirstOrDefault(e => e.At >= attempt.StartedUtc - Slack && e.At <= end);
            if (match.Node is not null)
            {
                result[attempt] = match.Node;
            }
        }

        return result;
    }

    /// <summary>Allows for the two clocks' reading granularity, far below the time a port takes to be reused.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(5);

    private static int PortOf(string endpoint) =>
        int.TryParse(endpoint[(endpoint.LastIndexOf(':') + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : -1;

    private static string NodeName(string identity) => identity.StartsWith("CN=", StringComparison.Ordinal) ? identity[3..] : identity;
}
