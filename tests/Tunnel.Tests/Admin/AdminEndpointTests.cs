using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.Tests.Admin;

/// <summary>/healthz, /readyz and /metrics on the admin endpoint, with promtool judging the exposition.</summary>
public sealed class AdminEndpointTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TestPki _pki = new();
    private readonly LogCollector _logs = new(output);
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact(Timeout = 60_000)]
    public async Task Metrics_pass_promtool_and_count_connections_bytes_and_handshakes()
    {
        await using var upstream = new TcpTestServer(Integration.DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address,
            server: s => s["admin:listen"] = "127.0.0.1:0", client: c => c["admin:listen"] = "127.0.0.1:0");
        using (var socket = await tunnel.ConnectClientAsync())
        {
            await socket.SendAsync("hello"u8.ToArray(), SocketFlags.None);
            Assert.Equal(5, await socket.ReceiveAsync(new byte[5].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Wait));
        }

        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains("reason=done"), Wait);
        var server = await _http.GetStringAsync($"http://{tunnel.Server.Host.AdminEndPoint}/metrics");
        var client = await _http.GetStringAsync($"http://{tunnel.Client!.Host.AdminEndPoint}/metrics");
        output.WriteLine(server);

        Assert.Contains("tunnel_accept_total{tunnel=\"default\",result=\"success\"} 1", server);
        Assert.Contains("tunnel_bytes_total{tunnel=\"default\",direction=\"up\"} 5", server);
        Assert.Contains("tunnel_bytes_total{tunnel=\"default\",direction=\"down\"} 5", server);
        Assert.Contains("tunnel_connections_closed_total{tunnel=\"default\",reason=\"done\"} 1", server);
        Assert.Contains("tunnel_connections_open{tunnel=\"default\"} 0", server);
        Assert.Contains("tunnel_handshake_duration_seconds_count{tunnel=\"default\"} 1", server);
        Assert.Contains("tunnel_cert_expiry_timestamp_seconds{tunnel=\"default\",kind=\"identity\"}", server);
        Assert.Contains("tunnel_build_info{program=\"tunnel-server\"", server);
        Assert.Contains("process_resident_memory_bytes", server);
        Assert.Contains("# TYPE tunnel_buffer_pool_bytes gauge", server);
        Assert.Contains("# TYPE tunnel_tls_session_cache_sessions gauge", server);
        Assert.Contains("# TYPE tunnel_tls_session_cache_evictions_total counter", server);
        Assert.DoesNotContain("tunnel_tls_session_cache_sessions", client); // tunnel-server's cache
        Assert.Contains("tunnel_server_up{tunnel=\"default\",backend=\"127.0.0.1:", client);
        await PromtoolAsync(server);
        await PromtoolAsync(client);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_crl_next_update_is_a_metric_to_alert_on()
    {
        var nextUpdate = DateTimeOffset.UtcNow.AddDays(2);
        var crl = _pki.WriteCrl([], nextUpdate: nextUpdate);
        await using var upstream = new TcpTestServer(Integration.DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["admin:listen"] = "127.0.0.1:0";
            s["crl"] = crl;
        }, withClient: false);

        var server = await _http.GetStringAsync($"http://{tunnel.Server.Host.AdminEndPoint}/metrics");

        // The CRL builder writes whole seconds.
        Assert.Contains($"tunnel_cert_expiry_timestamp_seconds{{tunnel=\"default\",kind=\"crl\"}} {nextUpdate.ToUnixTimeSeconds()}", server);
        await PromtoolAsync(server);
    }

    [Fact(Timeout = 60_000)]
    public async Task Readyz_is_200_with_a_reachable_upstream_and_503_naming_the_problem_without_one()
    {
        var upstream = new TcpTestServer(Integration.DataIntegrityTests.EchoAsync);
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["admin:listen"] = "127.0.0.1:0";
            s["upstreamHealthCheckInterval"] = "200ms";
        }, withClient: false);
        var admin = tunnel.Server.Host.AdminEndPoint;

        Assert.Equal("ok\n", await _http.GetStringAsync($"http://{admin}/healthz"));
        var ready = await PollReadyzAsync(admin!, HttpStatusCode.OK);
        Assert.Equal("ready", ready.RootElement.GetProperty("status").GetString());

        await upstream.DisposeAsync();
        var notReady = await PollReadyzAsync(admin!, HttpStatusCode.ServiceUnavailable);
        var problem = notReady.RootElement.GetProperty("tunnels")[0].GetProperty("problems")[0].GetString();
        Assert.Contains("no upstream proxy answered", problem);
        Assert.Equal("ok\n", await _http.GetStringAsync($"http://{admin}/healthz"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Readyz_turns_503_while_draining()
    {
        var release = new TaskCompletionSource();
        await using var upstream = new TcpTestServer(async socket =>
        {
            await socket.ReceiveAsync(new byte[8].AsMemory(), SocketFlags.None);
            await release.Task;
        });
        await using var tunnel = await TunnelHarness.StartAsync(_pki, _logs, upstream.Address, server: s =>
        {
            s["admin:listen"] = "127.0.0.1:0";
            s["shutdownTimeout"] = "20s";
        });
        using var socket = await tunnel.ConnectClientAsync();
        await socket.SendAsync("hold"u8.ToArray(), SocketFlags.None);
        await _logs.WaitForAsync(l => l.Category == "tunnel-server" && l.Message.Contains(" open: "), Wait);

        tunnel.Server.Host.RequestStop();
        var report = await PollReadyzAsync(tunnel.Server.Host.AdminEndPoint!, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("stopping", report.RootElement.GetProperty("status").GetString());
        release.SetResult();
    }

    private async Task<JsonDocument> PollReadyzAsync(IPEndPoint admin, HttpStatusCode wanted)
    {
        var body = await Poll.UntilAsync(async () =>
        {
            using var response = await _http.GetAsync($"http://{admin}/readyz");
            return (response.StatusCode == wanted, await response.Content.ReadAsStringAsync());
        }, Wait, $"/readyz answering {(int)wanted}");
        return JsonDocument.Parse(body);
    }

    private static async Task PromtoolAsync(string exposition)
    {
        var promtool = File.Exists("/usr/bin/promtool") ? "/usr/bin/promtool"
            : throw new InvalidOperationException("promtool is missing: apt-get install prometheus (test.sh installs it)");
        using var process = Process.Start(new ProcessStartInfo(promtool, "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(process.ExitCode == 0, $"promtool check metrics failed:\n{await stdout}{await stderr}");
    }

    public void Dispose()
    {
        _http.Dispose();
        _pki.Dispose();
    }
}
