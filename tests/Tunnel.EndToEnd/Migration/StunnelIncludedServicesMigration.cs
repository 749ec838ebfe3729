using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Migration;

/// <summary>A stunnel.conf whose certificate, CA and verifyChain sit in the global section and whose two services
/// come from an included folder, one of them with a CRL: run by stunnel4, by tunnel-server with
/// `--config stunnel.conf`, and with the imported JSON, each service carries its own traffic to its own upstream
/// (SHA-256 both ways), and the revoked client is refused by the service with the CRL only, as stunnel does.</summary>
[Trait("Category", "EndToEnd")]
public sealed class StunnelIncludedServicesMigration(ITestOutputHelper output)
{
    private const long Size = 1024 * 1024;

    [Fact(Timeout = 180_000)]
    public async Task Each_included_service_keeps_its_upstream_and_its_own_revocation_list()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(160));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("migrate-include");
        using var pki = new TestPki("E2E Migration CA");
        var good = pki.IssueClient("site-good");
        var revoked = pki.IssueClient("site-revoked");
        var crl = pki.WriteCrl([revoked.Cert]);
        var (cert, key) = pki.IssueServer(ProxyChain.ServerName);

        await using var squidUpstream = new MigrationUpstream(Size, seed: 100);
        await using var gitUpstream = new MigrationUpstream(Size, seed: 200);

        var squidPort = FreePort.Next();
        var gitPort = FreePort.Next();
        var log = sandbox.Path("stunnel.log");
        sandbox.WriteText("conf.d/20-git.conf", $"""
            [git]
            accept = 127.0.0.1:{gitPort}
            connect = {gitUpstream.Address}
            CRLfile = {crl}
            """);
        sandbox.WriteText("conf.d/10-squid.conf", $"""
            [squid]
            accept = 127.0.0.1:{squidPort}
            connect = {squidUpstream.Address}
            """);
        var config = sandbox.WriteText("stunnel.conf", $"""
            foreground = yes
            pid =
            output = {log}
            debug = info
            cert = {cert}
            key = {key}
            CAfile = {pki.CaPath}
            verifyChain = yes
            include = {sandbox.Path("conf.d")}
            """);
        var json = sandbox.Path("tunnel-server.json");
        var import = await TunnelProcess.RunToExitAsync(binaries, "tunnel-server", ["import-stunnel", config, "--output", json], output, deadline.Token);
        Assert.True(import.ExitCode == 0, import.Stderr);
        var written = await File.ReadAllTextAsync(json, deadline.Token);
        Assert.Contains("\"squid\"", written, StringComparison.Ordinal);
        Assert.Contains("\"git\"", written, StringComparison.Ordinal);

        async Task CheckAsync(string who)
        {
            foreach (var (name, port, upstream) in new[] { ("squid", squidPort, squidUpstream), ("git", gitPort, gitUpstream) })
            {
                var expected = upstream.Next();
                var (up, down) = await TlsPeer.TransferAsync(port, pki, good, Size, expected.ClientSeed, deadline.Token);
                Assert.True(up == await upstream.Received.WaitAsync(deadline.Token), $"{who} [{name}]: the upload did not arrive intact at its upstream");
                Assert.True((Payload.Expected(Size, expected.UpstreamSeed), Size) == down, $"{who} [{name}]: the download arrived changed");
            }

            // The CRL is the git service's only: the revoked client still gets through [squid], as with stunnel.
            var squidBefore = squidUpstream.Carried;
            var gitBefore = gitUpstream.Carried;
            Assert.False(await TlsPeer.IsRefusedAsync(squidPort, pki, revoked, deadline.Token), $"{who} [squid] refused the client its stunnel service accepts");
            Assert.True(await TlsPeer.IsRefusedAsync(gitPort, pki, revoked, deadline.Token), $"{who} [git] let the revoked client in");
            await Poll.UntilAsync(() => squidUpstream.Carried == squidBefore + 1, $"{who}: the accepted client's connection to the squid upstream", deadline.Token);
            Assert.Equal(gitBefore, gitUpstream.Carried);
        }

        await using (var stunnel = await StunnelProcess.StartWithConfigAsync(config, log, squidPort, "include", output, deadline.Token))
        {
            await Poll.UntilListeningAsync(gitPort, "stunnel's [git] service", deadline.Token);
            await CheckAsync("stunnel");
        }

        foreach (var file in new[] { config, json })
        {
            await using var server = await TunnelProcess.StartAsync(binaries, "tunnel-server", ["--config", file], output, deadline.Token);
            await server.WaitForEventAsync(e => e.EventName == "ServerListening" && e["Address"] == $"127.0.0.1:{gitPort}", "the git tunnel listening", deadline.Token);
            await server.WaitForEventAsync(e => e.EventName == "ServerListening" && e["Address"] == $"127.0.0.1:{squidPort}", "the squid tunnel listening", deadline.Token);
            await CheckAsync($"tunnel-server --config {Path.GetFileName(file)}");
            Assert.Equal(0, await server.StopAsync(deadline.Token));
        }
    }
}
