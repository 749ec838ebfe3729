using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tunnel.Client.Cli;
using Tunnel.Client.Diagnostics;
using Tunnel.Tests.Support;
using Tunnel.Tls;
using Xunit.Abstractions;

namespace Tunnel.Tests.Diagnostics;

/// <summary><c>tunnel-client diagnose</c> names each failure with a verdict and advice, and passes only when every
/// step does.</summary>
public sealed class DiagnoseTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly TestPki _otherPki = new("Corporate Inspection CA");
    private readonly LogCollector _logs = new(output);

    [Fact(Timeout = 60_000)]
    public async Task A_healthy_chain_passes_every_step_and_exits_0()
    {
        await using var upstream = new TcpTestServer(HttpAnswer("HTTP/1.1 503 Service Unavailable\r\nServer: squid/5.7\r\n\r\n"));
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);
        var client = _pki.IssueClient("site-a");

        var (exit, text) = await RunAsync(Flags($"127.0.0.1:{tunnel.ServerEndPoint.Port}", client));

        Assert.Equal(0, exit);
        Assert.Contains("[ ok ] round trip", text);
        Assert.Contains("the upstream proxy answered 'HTTP/1.1 503 Service Unavailable' (Server: squid/5.7)", text);
        Assert.Contains("accepted", text);
        Assert.DoesNotContain("FAIL", text);
    }

    [Fact(Timeout = 60_000)]
    public async Task With_multiplexing_on_the_preamble_is_checked_and_the_round_trip_rides_a_stream()
    {
        await using var upstream = new TcpTestServer(HttpAnswer("HTTP/1.1 503 Service Unavailable\r\nServer: squid/5.7\r\n\r\n"));
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, withClient: false);
        await using var refusing = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["multiplex"] = "false", withClient: false);
        var client = _pki.IssueClient("site-a");

        var flags = Flags($"127.0.0.1:{tunnel.ServerEndPoint.Port}", client);
        flags.Multiplex = "on";
        var (exit, text) = await RunAsync(flags);

        Assert.Equal(0, exit);
        Assert.Contains("[ ok ] multiplexing", text);
        Assert.Contains("the upstream proxy answered 'HTTP/1.1 503 Service Unavailable' (Server: squid/5.7)", text);
        Assert.Contains(_logs.Lines, l => l.EventId.Name == "ConnectionOpened" && (string?)l["Upstream"] == "(multiplexed)");

        flags = Flags($"127.0.0.1:{refusing.ServerEndPoint.Port}", client);
        flags.Multiplex = "on";
        (exit, text) = await RunAsync(flags);

        Assert.NotEqual(0, exit);
        Assert.Contains("FAIL", text);
        Assert.Contains("not acknowledged", text);
        Assert.Contains("turn multiplex off for this tunnel", text);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_intercepting_middlebox_is_named_with_its_issuer()
    {
        await using var middlebox = new TlsTestServer(_otherPki.IssueServer("tunnel.test"));

        var report = await DiagnoseAsync(Flags(middlebox.Address, _pki.IssueClient()));

        var server = Assert.Single(Assert.Single(report.Tunnels).Servers);
        Assert.Equal("intercepted", server.Verdict);
        var step = Assert.Single(server.Steps, s => s.Name == "server certificate");
        Assert.Contains("Corporate Inspection CA", step.Detail);
        Assert.Contains("exempt the tunnel-server address", step.Advice);
        Assert.Equal("CN=Corporate Inspection CA", server.PresentedChain[0].Issuer);
        Assert.False(report.Ok);
    }

    [Fact(Timeout = 60_000)]
    public async Task Unknown_ca_expired_not_yet_valid_and_name_mismatch_each_get_their_verdict()
    {
        var cases = new (string Verdict, (string, string) Certificate)[]
        {
            ("unknown-ca", _otherPki.IssueServer("somewhere.else")),
            ("expired", _pki.IssueServer(notBefore: DateTimeOffset.UtcNow.AddDays(-20), notAfter: DateTimeOffset.UtcNow.AddDays(-2))),
            ("not-yet-valid", _pki.IssueServer(notBefore: DateTimeOffset.UtcNow.AddDays(2), notAfter: DateTimeOffset.UtcNow.AddDays(20))),
            ("name-mismatch", _pki.IssueServer("another.name")),
        };
        foreach (var (verdict, certificate) in cases)
        {
            await using var server = new TlsTestServer(certificate);
            var report = await DiagnoseAsync(Flags(server.Address, _pki.IssueClient()));
            var diagnosis = Assert.Single(Assert.Single(report.Tunnels).Servers);
            Assert.Equal(verdict, diagnosis.Verdict);
            Assert.NotNull(Assert.Single(diagnosis.Steps, s => s.Name == "server certificate").Advice);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_pin_mismatch_is_reported()
    {
        await using var server = new TlsTestServer(_pki.IssueServer());
        var flags = Flags(server.Address, _pki.IssueClient());
        flags.ServerPins = [CertificateInfo.SpkiPin(_otherPki.Root)];

        var diagnosis = Assert.Single(Assert.Single((await DiagnoseAsync(flags)).Tunnels).Servers);
        Assert.Equal("pin-mismatch", diagnosis.Verdict);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_refused_client_certificate_is_its_own_step()
    {
        await using var upstream = new TcpTestServer(HttpAnswer("HTTP/1.1 200 OK\r\n\r\n"));
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s => s["allow"] = "cn:someone-else", withClient: false);

        var diagnosis = Assert.Single(Assert.Single((await DiagnoseAsync(Flags($"127.0.0.1:{tunnel.ServerEndPoint.Port}", _pki.IssueClient()))).Tunnels).Servers);

        var step = diagnosis.Steps[^1];
        Assert.Equal(("client certificate", false), (step.Name, step.Ok));
        Assert.Contains("refuses this client's certificate", step.Detail);
        Assert.Equal("trusted", diagnosis.Verdict);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_dead_upstream_proxy_behind_the_server_fails_the_round_trip_with_the_servers_reason()
    {
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, $"127.0.0.1:{((IPEndPoint)closed.LocalEndPoint!).Port}", withClient: false);

        var diagnosis = Assert.Single(Assert.Single((await DiagnoseAsync(Flags($"127.0.0.1:{tunnel.ServerEndPoint.Port}", _pki.IssueClient()))).Tunnels).Servers);

        var step = diagnosis.Steps[^1];
        Assert.Equal(("round trip", false), (step.Name, step.Ok));
        Assert.Contains("tunnel-server cannot reach its upstream proxy", step.Detail);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_refused_port_and_a_silent_server_are_told_apart()
    {
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var refused = Assert.Single(Assert.Single((await DiagnoseAsync(Flags($"127.0.0.1:{((IPEndPoint)closed.LocalEndPoint!).Port}", _pki.IssueClient()))).Tunnels).Servers);
        Assert.Equal(("tcp connect", false), (refused.Steps[^1].Name, refused.Steps[^1].Ok));
        Assert.Contains("nothing listens at", refused.Steps[^1].Advice);

        await using var silent = new TcpTestServer(TcpTestServer.Silent);
        var flags = Flags(silent.Address, _pki.IssueClient());
        flags.HandshakeTimeout = "500ms";
        var stalled = Assert.Single(Assert.Single((await DiagnoseAsync(flags)).Tunnels).Servers);
        Assert.Equal(("tls handshake", false), (stalled.Steps[^1].Name, stalled.Steps[^1].Ok));
        Assert.Contains("something on the path holds TLS", stalled.Steps[^1].Advice);
    }

    [Fact(Timeout = 60_000)]
    public async Task Json_output_parses_and_a_configuration_error_fails_first()
    {
        var flags = new DiagnoseOptions { Json = true, Servers = ["a.test:443"], IdleTimeout = "soon" };
        var stdout = new StringWriter();

        var exit = await DiagnoseCommand.RunAsync(flags, stdout, TimeProvider.System);

        Assert.Equal(1, exit);
        using var json = JsonDocument.Parse(stdout.ToString());
        Assert.False(json.RootElement.GetProperty("ok").GetBoolean());
        var step = json.RootElement.GetProperty("steps")[0];
        Assert.Equal("configuration", step.GetProperty("name").GetString());
        Assert.Contains("idleTimeout", step.GetProperty("detail").GetString());
    }

    private DiagnoseOptions Flags(string server, (string Cert, string Key) client) => new()
    {
        Servers = [server],
        ServerName = "tunnel.test",
        Ca = _pki.CaPath,
        Cert = client.Cert,
        Key = client.Key,
    };

    private async Task<(int Exit, string Text)> RunAsync(DiagnoseOptions flags)
    {
        var stdout = new StringWriter();
        var exit = await DiagnoseCommand.RunAsync(flags, stdout, TimeProvider.System);
        output.WriteLine(stdout.ToString());
        return (exit, stdout.ToString());
    }

    private async Task<DiagnosisReport> DiagnoseAsync(DiagnoseOptions flags)
    {
        var report = await DiagnoseCommand.DiagnoseAsync(flags, TimeProvider.System, CancellationToken.None);
        var text = new StringWriter();
        await DiagnosisWriter.WriteAsync(report, text);
        output.WriteLine(text.ToString());
        return report;
    }

    private static Func<Socket, Task> HttpAnswer(string response) => async socket =>
    {
        await socket.ReceiveAsync(new byte[4096].AsMemory(), SocketFlags.None);
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(response), SocketFlags.None);
        socket.Shutdown(SocketShutdown.Send);
    };

    public void Dispose()
    {
        _pki.Dispose();
        _otherPki.Dispose();
    }
}
