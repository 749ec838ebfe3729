using System.Net;
using System.Net.Sockets;
using Tunnel.EndToEnd.Support;
using Tunnel.Tests.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Migration;

/// <summary>The client side of the deployment stunnel.conf (client = yes, accept on loopback for Squid, connect to
/// the server, verifyChain, CAfile, checkHost, the site's certificate) run by stunnel4, then by tunnel-client with
/// `--config stunnel.conf`, then with the JSON `tunnel-client import-stunnel` printed: on the same port, with the same
/// certificates, traffic through the same tunnel-server passes (SHA-256 both ways), and the servers stunnel refuses
/// (a certificate from another CA, one without the checkHost name) are refused by each, never reaching their
/// upstream.</summary>
[Trait("Category", "EndToEnd")]
public sealed class StunnelClientConfigMigration(ITestOutputHelper output)
{
    private const long Size = 2 * 1024 * 1024;

    [Fact(Timeout = 180_000)]
    public async Task Tunnel_client_reaches_and_refuses_the_same_servers_as_stunnel_with_its_configuration()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(160));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("migrate-client");
        using var pki = new TestPki("E2E Migration CA");
        using var otherPki = new TestPki("E2E Other CA");
        var (cert, key) = pki.IssueClient("site-a");

        await using var upstream = new MigrationUpstream(Size, seed: 0);
        await using var server = await TunnelProcess.StartServerAsync(binaries, upstream.Address, pki.IssueServer(ProxyChain.ServerName), pki.CaPath,
            output, deadline.Token, "--upstream-dial", "handshake");

        // Impostors: the right name from another CA, and the right CA without the name. Their upstream must stay untouched.
        // tunnel-server's upstream health checks connect and leave without a byte, so what counts is a byte arriving.
        var carried = 0;
        await using var impostorUpstream = new TcpTestServer(async socket =>
        {
            var buffer = new byte[4096];
            while (await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None) > 0)
            {
                Interlocked.Increment(ref carried);
            }
        });
        await using var foreignServer = await TunnelProcess.StartServerAsync(binaries, impostorUpstream.Address, otherPki.IssueServer(ProxyChain.ServerName),
            pki.CaPath, output, deadline.Token, "--upstream-dial", "handshake");
        await using var misnamedServer = await TunnelProcess.StartServerAsync(binaries, impostorUpstream.Address, pki.IssueServer("other.test"),
            pki.CaPath, output, deadline.Token, "--upstream-dial", "handshake");

        var port = FreePort.Next();
        // One log per file: readiness is read from it, and an earlier run's "bound" line must not count.
        string Log(string config) => Path.ChangeExtension(config, ".log");
        string Config(string name, string connect) => sandbox.WriteText(name, $"""
            ; The client side of a Squid + stunnel site, as deployed (Tunnel end-to-end tests).
            foreground = yes
            pid =
            output = {Log(sandbox.Path(name))}
            debug = info

            [squid-parent]
            client = yes
            accept = 127.0.0.1:{port}
            connect = {connect}
            verifyChain = yes
            CAfile = {pki.CaPath}
            checkHost = {ProxyChain.ServerName}
            cert = {cert}
            key = {key}

            """);
        var config = Config("stunnel.conf", server.Address);
        var foreignConfig = Config("stunnel-foreign.conf", foreignServer.Address);
        var misnamedConfig = Config("stunnel-misnamed.conf", misnamedServer.Address);
        var json = sandbox.Path("tunnel-client.json");
        var import = await TunnelProcess.RunToExitAsync(binaries, "tunnel-client", ["import-stunnel", config, "--output", json], output, deadline.Token);
        Assert.True(import.ExitCode == 0, import.Stderr);

        async Task PassesAsync(string who)
        {
            var (clientSeed, upstreamSeed) = upstream.Next();
            var down = await DuplexTransfer.RunAsync(port, Size, clientSeed, deadline.Token);
            var up = await upstream.Received.WaitAsync(deadline.Token);
            Assert.True((Payload.Expected(Size, clientSeed), Size) == up, $"{who}: the upload arrived changed");
            Assert.True((Payload.Expected(Size, upstreamSeed), Size) == down, $"{who}: the download arrived changed");
        }

        async Task RefusedAsync(string who)
        {
            Assert.True(await NothingComesBackAsync(port, deadline.Token), $"{who} carried traffic to an impostor");
            Assert.Equal(0, Volatile.Read(ref carried));
        }

        // stunnel, with the site's configuration and with it pointed at each impostor.
        await using (var stunnel = await StunnelProcess.StartWithConfigAsync(config, Log(config), port, "client", output, deadline.Token))
        {
            await PassesAsync("stunnel");
        }

        foreach (var impostor in new[] { foreignConfig, misnamedConfig })
        {
            await using var stunnel = await StunnelProcess.StartWithConfigAsync(impostor, Log(impostor), port, "client", output, deadline.Token);
            await RefusedAsync($"stunnel ({Path.GetFileName(impostor)})");
        }

        // tunnel-client, given the stunnel files themselves, then the converted JSON.
        foreach (var arguments in new[] { new[] { "--config", config }, ["--config", json] })
        {
            await using var client = await TunnelProcess.StartAsync(binaries, "tunnel-client", arguments, output, deadline.Token);
            Assert.Equal(port, client.Port);
            await PassesAsync($"tunnel-client {string.Join(' ', arguments)}");
            Assert.Equal(0, await client.StopAsync(deadline.Token));
        }

        foreach (var impostor in new[] { foreignConfig, misnamedConfig })
        {
            await using var client = await TunnelProcess.StartAsync(binaries, "tunnel-client", ["--config", impostor], output, deadline.Token);
            await RefusedAsync($"tunnel-client --config {Path.GetFileName(impostor)}");
            Assert.Equal(0, await client.StopAsync(deadline.Token));
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task Against_a_stunnel_server_tunnel_client_opens_one_connection_per_connection_as_stunnel_does()
    {
        // The first step of a migration that starts with the sites: the server side is still stunnel, which dials its
        // upstream for every TLS connection it accepts. The converted client keeps no warm pool and sends no probes
        // (checked: with --pool-size 2 added, the upstream sees 6 connections instead of 4).
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(160));
        var binaries = await PublishedBinaries.GetAsync();
        using var sandbox = new Sandbox("migrate-client-stunnel");
        using var pki = new TestPki("E2E Migration CA");
        var (cert, key) = pki.IssueClient("site-a");
        var (serverCert, serverKey) = pki.IssueServer(ProxyChain.ServerName);
        await using var upstream = new MigrationUpstream(Size, seed: 300);
        await using var server = await StunnelProcess.StartAsync(sandbox, "peer", upstream.Address,
            [$"cert = {serverCert}", $"key = {serverKey}", $"CAfile = {pki.CaPath}", "verifyChain = yes"], output, deadline.Token);
        var port = FreePort.Next();
        var log = sandbox.Path("client.log");
        var config = sandbox.WriteText("client.conf", $"""
            foreground = yes
            pid =
            output = {log}
            debug = info
            [squid-parent]
            client = yes
            accept = 127.0.0.1:{port}
            connect = {server.Address}
            verifyChain = yes
            CAfile = {pki.CaPath}
            checkHost = {ProxyChain.ServerName}
            cert = {cert}
            key = {key}
            """);

        async Task PassesAsync(string who)
        {
            var (clientSeed, upstreamSeed) = upstream.Next();
            // A stunnel server ends both directions on its upstream's hang-up: the upload ends last (docs/operations.md).
            var down = await DuplexTransfer.RunAsync(port, Size, clientSeed, deadline.Token, halfCloseLast: true);
            var up = await upstream.Received.WaitAsync(deadline.Token);
            Assert.True((Payload.Expected(Size, clientSeed), Size) == up, $"{who}: the upload arrived changed");
            Assert.True((Payload.Expected(Size, upstreamSeed), Size) == down, $"{who}: the download arrived changed");
        }

        await using (var stunnel = await StunnelProcess.StartWithConfigAsync(config, log, port, "client", output, deadline.Token))
        {
            await PassesAsync("stunnel");
            await PassesAsync("stunnel");
        }

        await using (var client = await TunnelProcess.StartAsync(binaries, "tunnel-client", ["--config", config], output, deadline.Token))
        {
            await PassesAsync("tunnel-client --config stunnel.conf");
            await PassesAsync("tunnel-client --config stunnel.conf");
            Assert.Equal(0, await client.StopAsync(deadline.Token));
        }

        // One upstream connection per tunneled connection, and each carried its transfer: no pooled or probe connection.
        Assert.Equal(4, upstream.Accepted);
        Assert.Equal(4, upstream.Carried);
        // The stunnel server saw the site's certificate (a resumed session is not verified again, so not counted).
        Assert.Contains("Certificate accepted at depth=0: CN=site-a", string.Join('\n', Poll.ReadLines(sandbox.Path("peer.log"))), StringComparison.Ordinal);
    }

    /// <summary>Connects to the local side of the tunnel, sends a few bytes and reads: a refused server means the
    /// connection ends (EOF or reset) with nothing received.</summary>
    private static async Task<bool> NothingComesBackAsync(int port, CancellationToken deadline)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), deadline);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Accepted and reset before this process saw its connect complete (a loaded machine, with stunnel quick
            // to give up on the impostor): nothing came back all the same. Refused (nothing listening) still fails.
            return true;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await socket.SendAsync("hello\n"u8.ToArray(), SocketFlags.None, timeout.Token);
            var buffer = new byte[1024];
            return await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) == 0;
        }
        catch (SocketException)
        {
            return true;
        }
    }
}
