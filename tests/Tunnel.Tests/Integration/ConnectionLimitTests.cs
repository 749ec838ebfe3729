using System.Net.Security;
using System.Text;
using Microsoft.Extensions.Logging;
using Tunnel.Common;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>Per-source, per-identity and handshake-rate limits refuse the connection over the limit (before the
/// handshake, or after authentication for identities), count it, and warn once per burst; the connections under the
/// limit carry on, and a freed slot can be taken again.</summary>
public sealed class ConnectionLimitTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 60_000)]
    public async Task The_connection_over_the_per_source_limit_is_refused_before_the_handshake_and_counted()
    {
        const int limit = 3;
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["maxConnectionsPerSource"] = $"{limit}", withClient: false);

        var held = new List<SslStream>();
        for (var i = 0; i < limit; i++)
        {
            held.Add(await ConnectAndEchoAsync(tunnel, tunnel.ClientCertificate));
        }

        // The server closes before its ServerHello: the client's handshake fails, whatever the client presents.
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectAndEchoAsync(tunnel, tunnel.ClientCertificate));

        var series = tunnel.Server.Metrics.For("default");
        Assert.Equal(1, series.LimitRejected("source").Value);
        Assert.Equal(1, series.Accepted(AcceptOutcome.Limited).Value);
        Assert.Equal(limit, series.Accepted(AcceptOutcome.Success).Value);
        var warning = await _logs.WaitForAsync(l => l.EventId.Name == "LimitReached", Wait);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains($"127.0.0.1 already has {limit} connections (maxConnectionsPerSource {limit})", warning.Message);
        Assert.Equal(limit, upstream.Accepted);

        // A closed connection frees its slot.
        await held[0].DisposeAsync();
        await _logs.WaitForAsync(l => l.EventId.Name == "ConnectionClosed", Wait);
        held[0] = await ConnectAndEchoAsync(tunnel, tunnel.ClientCertificate);
        Assert.Equal(limit + 1, series.Accepted(AcceptOutcome.Success).Value);
        foreach (var stream in held)
        {
            await stream.DisposeAsync();
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task The_connection_over_the_per_identity_limit_is_refused_after_authentication_like_a_refused_certificate()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["maxConnectionsPerIdentity"] = "2", withClient: false);
        var siteA = _pki.IssueClient("site-a");
        var siteB = _pki.IssueClient("site-b");

        await using var a1 = await ConnectAndEchoAsync(tunnel, siteA);
        await using var a2 = await ConnectAndEchoAsync(tunnel, siteA);

        // The handshake completes (the identity is only known then); the server then closes without a word.
        await using (var a3 = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, siteA))
        {
            Assert.True(await TlsTestClient.IsRefusedAsync(a3, Wait));
        }

        await using var b1 = await ConnectAndEchoAsync(tunnel, siteB);

        var warning = await _logs.WaitForAsync(l => l.EventId.Name == "LimitReached", Wait);
        Assert.Contains("client CN=site-a already has 2 connections (maxConnectionsPerIdentity 2)", warning.Message);
        var closed = await _logs.WaitForAsync(l => l.Message.Contains("reason=limited"), Wait);
        Assert.Equal("CN=site-a", closed["PeerIdentity"]);
        var series = tunnel.Server.Metrics.For("default");
        Assert.Equal(1, series.LimitRejected("identity").Value);
        Assert.Equal(1, series.Accepted(AcceptOutcome.Limited).Value);
        Assert.Equal(3, series.Accepted(AcceptOutcome.Success).Value);
        Assert.Equal(3, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task Handshakes_over_the_rate_are_refused_and_a_burst_of_refusals_logs_one_warning()
    {
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);

        // One a minute refills nothing during the test (the bucket runs on the real clock), so the burst is exact.
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["handshakeRate"] = "1/m";
            s["handshakeBurst"] = "3";
        }, withClient: false);

        for (var i = 0; i < 3; i++)
        {
            await using var stream = await ConnectAndEchoAsync(tunnel, tunnel.ClientCertificate);
        }

        for (var i = 0; i < 6; i++)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => ConnectAndEchoAsync(tunnel, tunnel.ClientCertificate));
        }

        await _logs.WaitForCountAsync(l => l.EventId.Name is "LimitReached" or "LimitRefused", 6, Wait);
        var warnings = _logs.Lines.Where(l => l.EventId.Name == "LimitReached").ToList();
        var warning = Assert.Single(warnings);
        Assert.Contains("more than 1/m (burst 3) new handshakes (handshakeRate)", warning.Message);
        Assert.Equal(5, _logs.Count(l => l.EventId.Name == "LimitRefused" && l.Level == LogLevel.Debug));
        Assert.Equal(0, _logs.Count(l => l.Message.Contains("reason=limited") && l.Level > LogLevel.Debug));
        var series = tunnel.Server.Metrics.For("default");
        Assert.Equal(6, series.LimitRejected("handshake-rate").Value);
        Assert.Equal(6, series.Accepted(AcceptOutcome.Limited).Value);
        Assert.Equal(3, upstream.Accepted);
    }

    private async Task<SslStream> ConnectAndEchoAsync(TunnelHarness tunnel, (string Cert, string Key) certificate)
    {
        var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, certificate).WaitAsync(Wait);
        try
        {
            await tls.WriteAsync("ping"u8.ToArray());
            var buffer = new byte[4];
            await tls.ReadExactlyAsync(buffer).AsTask().WaitAsync(Wait);
            Assert.Equal("ping", Encoding.ASCII.GetString(buffer));
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    public void Dispose() => _pki.Dispose();
}
