using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Migration;

/// <summary>The server side of the deployment stunnel.conf (accept, connect to the upstream, verify = 2, CAfile,
/// CRLfile) run by stunnel4, then by tunnel-server with `--config stunnel.conf`, then with the JSON
/// `tunnel-server import-stunnel` printed: on the same port, with the same certificates, the same client passes
/// (SHA-256 both ways) and the clients stunnel refuses (revoked in the CRL, from another CA) are refused by each.</summary>
[Trait("Category", "EndToEnd")]
public sealed class StunnelServerConfigMigration(ITestOutputHelper output)
{
    private const long Size = 2 * 1024 * 1024;

    [Fact(Timeout = 180_000)]
    public async Task Tunnel_server_serves_and_refuses_the_same_clients_as_stunnel_with_its_configuration()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(160));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("migrate-server");
        using var pki = new TestPki("E2E Migration CA");
        using var otherPki = new TestPki("E2E Other CA");
        var good = pki.IssueClient("site-good");
        var revoked = pki.IssueClient("site-revoked");
        var foreign = otherPki.IssueClient("site-good");
        var crl = pki.WriteCrl([revoked.Cert]);
        var (cert, key) = pki.IssueServer(ProxyChain.ServerName);

        await using var upstream = new MigrationUpstream(Size, seed: 0);

        var port = FreePort.Next();
        var log = sandbox.Path("stunnel.log");
        var config = sandbox.WriteText("stunnel.conf", $"""
            ; The server side of a Squid + stunnel site, as deployed (Tunnel end-to-end tests).
            foreground = yes
            pid =
            output = {log}
            debug = info

            [squid-tunnel]
            accept = 127.0.0.1:{port}
            connect = {upstream.Address}
            cert = {cert}
            key = {key}
            verify = 2
            CAfile = {pki.CaPath}
            CRLfile = {crl}

            """);
        var json = sandbox.Path("tunnel-server.json");
        var import = await TunnelProcess.RunToExitAsync(binaries, "tunnel-server", ["import-stunnel", config, "--output", json], output, deadline.Token);
        Assert.True(import.ExitCode == 0, import.Stderr);
        Assert.Contains("foreground: no effect", import.Stderr, StringComparison.Ordinal);

        async Task CheckAsync(string who, int listenPort, Func<Task> stop)
        {
            // The client stunnel accepts: both directions arrive intact.
            var before = upstream.Carried;
            var (clientSeed, upstreamSeed) = upstream.Next();
            var (up, down) = await TlsPeer.TransferAsync(listenPort, pki, good, Size, clientSeed, deadline.Token);
            Assert.True(up == await upstream.Received.WaitAsync(deadline.Token), $"{who}: the upload arrived changed");
            Assert.Equal((Payload.Expected(Size, upstreamSeed), Size), down);
            Assert.Equal(before + 1, upstream.Carried);

            // The clients it refuses: revoked in the CRL, and from another CA. Neither reaches the upstream.
            Assert.True(await TlsPeer.IsRefusedAsync(listenPort, pki, revoked, deadline.Token), $"{who} let the revoked client in");
            Assert.True(await TlsPeer.IsRefusedAsync(listenPort, pki, foreign, deadline.Token), $"{who} let the other CA's client in");
            Assert.Equal(before + 1, upstream.Carried);
            await stop();
        }

        await using (var stunnel = await StunnelProcess.StartWithConfigAsync(config, log, port, "server", output, deadline.Token))
        {
            await CheckAsync("stunnel", port, () => stunnel.DisposeAsync().AsTask());
            // stunnel refused the revoked client because of the CRL, not by accident.
            Assert.Contains("Pre-verification error: certificate revoked", string.Join('\n', Poll.ReadLines(log)), StringComparison.Ordinal);
        }

        await using (var direct = await TunnelProcess.StartAsync(binaries, "tunnel-server", ["--config", config], output, deadline.Token))
        {
            Assert.Equal(port, direct.Port);
            await CheckAsync("tunnel-server --config stunnel.conf", direct.Port, async () =>
            {
                // Refused for the stated reason, not by accident (a crash, a timeout).
                await Poll.UntilAsync(() => direct.Events.Count(e => e["Reason"] == "client-rejected") == 2, "two client-rejected lines", deadline.Token);
                Assert.Equal(0, await direct.StopAsync(deadline.Token));
            });
        }

        await using (var converted = await TunnelProcess.StartAsync(binaries, "tunnel-server", ["--config", json], output, deadline.Token))
        {
            Assert.Equal(port, converted.Port);
            await CheckAsync("tunnel-server --config converted.json", converted.Port, async () => Assert.Equal(0, await converted.StopAsync(deadline.Token)));
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_stunnel_conf_Tunnel_cannot_honour_stops_the_daemon_with_each_line_and_exit_code_3()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(50));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("migrate-refused");
        using var pki = new TestPki("E2E Migration CA");
        var (cert, key) = pki.IssueServer(ProxyChain.ServerName);
        var config = sandbox.WriteText("stunnel.conf", $"""
            setuid = stunnel4
            [squid-tunnel]
            accept = 127.0.0.1:{FreePort.Next()}
            connect = 127.0.0.1:3128
            cert = {cert}
            key = {key}
            verify = 2
            CAfile = {pki.CaPath}
            PSKsecrets = /etc/stunnel/psk.txt
            [site]
            client = yes
            accept = 127.0.0.1:{FreePort.Next()}
            connect = tunnel.example:443
            """);

        var run = await TunnelProcess.RunToExitAsync(binaries, "tunnel-server", ["--config", config], output, deadline.Token);
        var import = await TunnelProcess.RunToExitAsync(binaries, "tunnel-server", ["import-stunnel", config], output, deadline.Token);

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("nothing was started", run.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{config}:1: setuid:", run.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{config}:9: PSKsecrets:", run.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{config}:11: client:", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("tunnel-client import-stunnel", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, import.ExitCode);
        Assert.Equal("", import.Stdout);
        Assert.Contains("(3 problems)", import.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 180_000)]
    public async Task With_verify_3_only_the_client_certificates_listed_in_CAfile_pass_stunnel_and_tunnel_server()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(160));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("migrate-verify3");
        using var pki = new TestPki("E2E Migration CA");
        var listed = pki.IssueClient("site-listed");
        var unlisted = pki.IssueClient("site-unlisted");
        var (cert, key) = pki.IssueServer(ProxyChain.ServerName);
        var bundle = sandbox.WriteText("peers.pem", await File.ReadAllTextAsync(pki.CaPath, deadline.Token) + await File.ReadAllTextAsync(listed.Cert, deadline.Token));
        await using var upstream = new MigrationUpstream(Size, seed: 500);
        var port = FreePort.Next();
        var log = sandbox.Path("stunnel.log");
        var config = sandbox.WriteText("stunnel.conf", $"""
            foreground = yes
            pid =
            output = {log}
            debug = info

            [squid-tunnel]
            accept = 127.0.0.1:{port}
            connect = {upstream.Address}
            cert = {cert}
            key = {key}
            CAfile = {bundle}
            verify = 3

            """);

        async Task CheckAsync(string who)
        {
            var before = upstream.Carried;
            var (clientSeed, upstreamSeed) = upstream.Next();
            var (up, down) = await TlsPeer.TransferAsync(port, pki, listed, Size, clientSeed, deadline.Token);
            Assert.True(up == await upstream.Received.WaitAsync(deadline.Token), $"{who}: the upload arrived changed");
            Assert.Equal((Payload.Expected(Size, upstreamSeed), Size), down);
            Assert.True(await TlsPeer.IsRefusedAsync(port, pki, unlisted, deadline.Token), $"{who} let in a client of the same CA that CAfile does not list");
            Assert.Equal(before + 1, upstream.Carried);
        }

        await using (var stunnel = await StunnelProcess.StartWithConfigAsync(config, log, port, "verify3", output, deadline.Token))
        {
            await CheckAsync("stunnel");
        }

        await using (var server = await TunnelProcess.StartAsync(binaries, "tunnel-server", ["--config", config], output, deadline.Token))
        {
            await CheckAsync("tunnel-server --config stunnel.conf");
            await Poll.UntilAsync(() => server.Events.Any(e => e["Reason"] == "client-rejected"), "the unlisted client's client-rejected line", deadline.Token);
            Assert.Equal(0, await server.StopAsync(deadline.Token));
        }
    }
}
