using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tunnel.Common;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Integration;

/// <summary>A flood of junk handshakes costs one warning per kind of failure every few seconds, not one per
/// connection; each connection still has its debug line and is counted.</summary>
public sealed class HandshakeFailureLogTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly TestPki _pki = new();
    private readonly TestPki _otherCa = new("other");
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 60_000)]
    public async Task Junk_handshakes_write_one_warning_then_quiet_lines_and_a_new_kind_of_failure_still_warns()
    {
        const int junk = 8;
        await using var upstream = new TcpTestServer(DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);

        for (var i = 0; i < junk; i++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(tunnel.ServerEndPoint);
            await socket.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            var buffer = new byte[256];
            while (await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Wait) > 0)
            {
            }
        }

        await _logs.WaitForCountAsync(l => l.Message.Contains("reason=handshake-failed", StringComparison.Ordinal), junk, Wait);
        Assert.Equal(1, _logs.Count(l => l.EventId.Name == "HandshakeFailed" && l.Level == LogLevel.Warning));
        Assert.Equal(junk - 1, _logs.Count(l => l.EventId.Name == "HandshakeFailedQuiet" && l.Level == LogLevel.Debug));
        Assert.Equal(junk, tunnel.Server.Metrics.For("default").Accepted(AcceptOutcome.Error).Value);

        // A client certificate from another CA is another kind of failure: it is not hidden behind the junk.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var tls = await TlsTestClient.ConnectAsync(tunnel.ServerEndPoint, _pki.Root, _otherCa.IssueClient("stranger"));
            await tls.WriteAsync("x"u8.ToArray());
            await tls.ReadExactlyAsync(new byte[1]);
        });
        var rejected = await _logs.WaitForAsync(l => l.EventId.Name == "HandshakeFailed" && l.Message.Contains("stranger", StringComparison.Ordinal), Wait);
        Assert.Equal(0L, rejected["Suppressed"]);
        Assert.Equal(0, upstream.Accepted);
    }

    public void Dispose()
    {
        _logs.Dispose();
        _otherCa.Dispose();
        _pki.Dispose();
    }
}
