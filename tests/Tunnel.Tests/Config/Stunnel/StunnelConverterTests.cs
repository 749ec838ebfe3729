using Tunnel.Balancing;
using Tunnel.Client.Options;
using Tunnel.Config;
using Tunnel.Config.Stunnel;
using Tunnel.Net;
using Tunnel.Server.Options;
using Tunnel.Tests.Support;

namespace Tunnel.Tests.Config.Stunnel;

/// <summary>A stunnel.conf becomes the JSON configuration of one daemon, which that daemon's reader accepts with the
/// same addresses, certificates and checks; what cannot carry over is an error naming file:line and the option.</summary>
public sealed class StunnelConverterTests : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("tunnel-stunnel-").FullName;

    [Fact(Timeout = 20_000)]
    public async Task The_client_side_of_the_deployment_becomes_a_tunnel_client_with_the_same_checks()
    {
        var (cert, key) = _pki.IssueClient("site-a");
        var path = Write("client.conf", $"""
            ; tunnel-client replaces this
            foreground = yes
            pid =
            [squid-parent]
            client = yes
            accept = 127.0.0.1:3129
            connect = tunnel.example:443
            verifyChain = yes
            CAfile = {_pki.CaPath}
            checkHost = tunnel.example
            cert = {cert}
            key = {key}
            """);

        var (conversion, options, errors) = await ConvertAndRead(path, StunnelRole.Client, ClientOptionsReader.Read);

        Assert.Empty(errors);
        var tunnel = Assert.Single(options!.Tunnels);
        Assert.Equal("squid-parent", tunnel.Name);
        Assert.Equal(new HostPort("127.0.0.1", 3129), tunnel.Listener.Address);
        Assert.Equal([new HostPort("tunnel.example", 443)], tunnel.Servers);
        Assert.Equal("tunnel.example", tunnel.ServerName);
        Assert.Equal("tunnel.example", tunnel.Sni);
        Assert.Equal(_pki.CaPath, tunnel.CaPath);
        Assert.Equal(cert, tunnel.Identity.CertificatePath);
        Assert.Equal(key, tunnel.Identity.KeyPath);
        Assert.Equal(BalancingStrategy.Failover, tunnel.Balancing.Strategy);
        Assert.Equal(0, tunnel.Pool.Size);
        Assert.Equal(Timeout.InfiniteTimeSpan, tunnel.Balancing.HealthCheckInterval);
        Assert.Equal(TimeSpan.FromHours(12), tunnel.Timeouts.Idle);
        Assert.Contains(conversion.Warnings, w => w.Option == "foreground" && w.Where == $"{path}:2");
        Assert.Contains(conversion.Notes, n => n.Contains("poolSize", StringComparison.Ordinal));
        Assert.StartsWith("// ", conversion.ToJson(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task The_server_side_of_the_deployment_becomes_a_tunnel_server_with_ca_and_crl()
    {
        var (cert, key) = _pki.IssueServer("tunnel.example");
        var crl = _pki.WriteCrl([]);
        var path = Write("server.conf", $"""
            [tunnel]
            accept = 443
            connect = 127.0.0.1:3128
            cert = {cert}
            key = {key}
            verify = 2
            CAfile = {_pki.CaPath}
            CRLfile = {crl}
            """);

        var (conversion, options, errors) = await ConvertAndRead(path, StunnelRole.Server, ServerOptionsReader.Read);

        Assert.Empty(errors);
        Assert.Empty(conversion.Warnings);
        var tunnel = Assert.Single(options!.Tunnels);
        Assert.Equal(new HostPort("*", 443), tunnel.Listener.Address);
        Assert.Equal([new HostPort("127.0.0.1", 3128)], tunnel.Upstreams);
        Assert.Equal(_pki.CaPath, tunnel.ClientCaPath);
        Assert.Equal(crl, tunnel.CrlPath);
        Assert.Equal(UpstreamDial.Handshake, tunnel.Dial);
        Assert.Empty(tunnel.Allow);
        Assert.Contains(conversion.Notes, n => n.Contains("requires every client to present a certificate", StringComparison.Ordinal));
    }

    [Theory(Timeout = 20_000)]
    [InlineData(true, "client = no", "tunnel-server import-stunnel")]
    [InlineData(true, "", "tunnel-server import-stunnel")]
    [InlineData(false, "client = yes", "tunnel-client import-stunnel")]
    public async Task A_service_of_the_other_side_is_an_error_naming_the_right_command(bool asClient, string clientLine, string command)
    {
        var role = asClient ? StunnelRole.Client : StunnelRole.Server;
        var path = Write("other.conf", $"""
            [svc]
            accept = 127.0.0.1:3129
            {clientLine}
            connect = 127.0.0.1:3128
            """);

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, role));

        Assert.False(conversion.Succeeded);
        var error = Assert.Single(conversion.Errors);
        Assert.Equal(clientLine.Length > 0 ? $"{path}:3" : $"{path}:1", error.Where);
        Assert.Contains(command, error.Message, StringComparison.Ordinal);
        Assert.Contains("[svc]", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task Several_services_share_the_global_options_as_root_defaults()
    {
        var (cert, key) = _pki.IssueServer("tunnel.example");
        var path = Write("fleet.conf", $"""
            cert = {cert}
            key = {key}
            CAfile = {_pki.CaPath}
            verifyChain = yes
            TIMEOUTidle = 600
            [squid]
            accept = 443
            connect = 127.0.0.1:3128
            connect = 127.0.0.1:3138
            failover = rr
            [git]
            accept = 127.0.0.1:9418
            connect = 127.0.0.1:19418
            TIMEOUTidle = 7200
            """);

        var (conversion, options, errors) = await ConvertAndRead(path, StunnelRole.Server, ServerOptionsReader.Read);

        Assert.Empty(errors);
        var root = conversion.Document!;
        Assert.Equal(cert, (string?)root["cert"]);
        Assert.Equal(_pki.CaPath, (string?)root["ca"]);
        Assert.Null(root["idleTimeout"]);
        Assert.Null(root["tunnels"]!["squid"]!["cert"]);
        var squid = options!.Tunnels.Single(t => t.Name == "squid");
        var git = options.Tunnels.Single(t => t.Name == "git");
        Assert.Equal([new HostPort("127.0.0.1", 3128), new HostPort("127.0.0.1", 3138)], squid.Upstreams);
        Assert.Equal(BalancingStrategy.RoundRobin, squid.Balancing.Strategy);
        Assert.Equal(BalancingStrategy.Failover, git.Balancing.Strategy);
        Assert.Equal(TimeSpan.FromMinutes(10), squid.Timeouts.Idle);
        Assert.Equal(TimeSpan.FromHours(2), git.Timeouts.Idle);
        Assert.Equal(cert, git.Identity.CertificatePath);
        Assert.Equal($"{path}:1 (cert)", conversion.Origins["cert"]);
        Assert.Equal($"{path}:14 (TIMEOUTidle)", conversion.Origins["tunnels:git:idleTimeout"]);
    }

    [Theory(Timeout = 20_000)]
    [InlineData("PSKsecrets = /etc/stunnel/psk.txt", "PSKsecrets", "certificates")]
    [InlineData("exec = /bin/sh", "exec", "TCP service")]
    [InlineData("engineId = pkcs11", "engineId", "PEM or PKCS#12")]
    [InlineData("OCSP = http://ocsp.example", "OCSP", "CRL")]
    [InlineData("OCSPaia = yes", "OCSPaia", "CRL")]
    [InlineData("renegotiation = yes", "renegotiation", "never allowed")]
    [InlineData("transparent = source", "transparent", "PROXY protocol")]
    [InlineData("sslVersionMax = TLSv1.2", "sslVersionMax", "remove it")]
    [InlineData("sslVersion = TLSv1.2", "sslVersion", "remove it")]
    [InlineData("CApath = /etc/stunnel/certs", "CApath", "cat DIR/*.pem")]
    [InlineData("CRLpath = /etc/stunnel/crls", "CRLpath", "CRLfile")]
    [InlineData("sni = primary:*.example", "sni", "own accept port")]
    [InlineData("checkIP = 10.0.0.1", "checkIP", "checkHost")]
    [InlineData("protocol = socks", "protocol", "raw TCP")]
    [InlineData("socket = r:SO_RCVBUF=65536", "socket", "SO_RCVBUF")]
    [InlineData("ciphersuites = TLS_AES_128_GCM_SHA256", "ciphersuites", "Remove ciphersuites")]
    [InlineData("accept = 127.0.0.1:8443", "accept", "one address")]
    [InlineData("connect = /run/squid.sock", "connect", "Unix socket")]
    [InlineData("reset = no", "reset", "TCP reset")]
    [InlineData("TIMEOUTidle = soon", "TIMEOUTidle", "seconds")]
    [InlineData("verifyChain = maybe", "verifyChain", "yes or no")]
    [InlineData("curves = prime256v1", "curves", "remove it")]
    [InlineData("bogusOption = 1", "bogusOption", "not a stunnel option")]
    public async Task An_option_Tunnel_cannot_honour_is_an_error_naming_the_line_the_option_and_what_to_do(string line, string option, string advice)
    {
        var path = Write("unsupported.conf", $"""
            [tunnel]
            accept = 443
            connect = 127.0.0.1:3128
            cert = {_pki.IssueServer().Cert}
            CAfile = {_pki.CaPath}
            verifyChain = yes
            {line}
            """);

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Server));

        Assert.False(conversion.Succeeded);
        Assert.Null(conversion.Document);
        var error = Assert.Single(conversion.Errors, e => e.Option == option);
        Assert.Equal($"{path}:7", error.Where);
        Assert.Contains(advice, error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task A_global_line_every_service_inherits_is_reported_once()
    {
        var path = Write("inherited.conf", "client = yes\nsslVersionMin = TLSv1.2\nciphers = HIGH\nTIMEOUTbusy = 30\n[a]\naccept = 1\nconnect = a.example:443\n[b]\naccept = 2\nconnect = b.example:443\n");

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Client));

        var error = Assert.Single(conversion.Errors);
        Assert.Equal(($"{path}:3", "ciphers"), (error.Where, error.Option));
        Assert.Single(conversion.Warnings, w => w.Option == "TIMEOUTbusy");
    }

    [Theory(Timeout = 20_000)]
    [InlineData("setuid = stunnel4", "setuid", "User=")]
    [InlineData("chroot = /var/lib/stunnel4", "chroot", "systemd")]
    [InlineData("engine = pkcs11", "engine", "PEM or PKCS#12")]
    [InlineData("fips = yes", "fips", "FIPS")]
    [InlineData("compression = zlib", "compression", "remove it")]
    public async Task A_global_option_Tunnel_cannot_honour_is_an_error_too(string line, string option, string advice)
    {
        var path = Write("global.conf", $"""
            {line}
            [tunnel]
            client = yes
            accept = 127.0.0.1:3129
            connect = tunnel.example:443
            """);

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Client));

        var error = Assert.Single(conversion.Errors);
        Assert.Equal(($"{path}:1", option), (error.Where, error.Option));
        Assert.Contains(advice, error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task Options_without_effect_are_warnings_and_the_conversion_goes_on()
    {
        var path = Write("noeffect.conf", $"""
            foreground = yes
            pid = /run/stunnel.pid
            syslog = yes
            RNDfile = /dev/urandom
            options = NO_SSLv2
            options = SINGLE_ECDH_USE
            [tunnel]
            client = yes
            accept = 127.0.0.1:3129
            connect = tunnel.example:443
            cert = {_pki.IssueClient().Cert}
            socket = l:TCP_NODELAY=yes
            socket = a:SO_REUSEADDR=yes
            delay = yes
            sessionCacheSize = 100
            TIMEOUTbusy = 300
            renegotiation = no
            ciphersuites = TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256
            """);

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Client));

        Assert.Empty(conversion.Errors);
        Assert.True(conversion.Succeeded);
        var warned = conversion.Warnings.Select(w => (w.Where, w.Option)).ToHashSet();
        foreach (var (line, option) in new[]
                 {
                     (1, "foreground"), (2, "pid"), (3, "syslog"), (4, "RNDfile"), (5, "options"), (6, "options"), (12, "socket"), (13, "socket"), (14, "delay"),
                     (15, "sessionCacheSize"), (16, "TIMEOUTbusy"), (17, "renegotiation"), (18, "ciphersuites"),
                 })
        {
            Assert.Contains(($"{path}:{line}", option), warned);
        }

        // stunnel verifies nothing here; Tunnel does, and says so.
        Assert.Contains(conversion.Warnings, w => w.Message.Contains("stunnel does not verify the server", StringComparison.Ordinal));
    }

    [Fact(Timeout = 20_000)]
    public async Task A_servers_session_cache_settings_carry_over_and_stunnels_unlimited_size_is_a_warning()
    {
        var cert = _pki.IssueServer().Cert;
        var sized = Write("cache.conf", $"[https]\naccept = 443\nconnect = 80\ncert = {cert}\nCAfile = {_pki.CaPath}\nsessionCacheSize = 500\nsessionCacheTimeout = 600\n");
        var unlimited = Write("unlimited.conf", $"[https]\naccept = 443\nconnect = 80\ncert = {cert}\nCAfile = {_pki.CaPath}\nsessionCacheSize = 0\nsession = 90\n");

        var converted = await Task.Run(() => StunnelConverter.Convert(sized, StunnelRole.Server));
        var warned = await Task.Run(() => StunnelConverter.Convert(unlimited, StunnelRole.Server));

        Assert.True(converted.Succeeded);
        var https = converted.Document!["tunnels"]!["https"]!;
        Assert.Equal(500, (int)https["sessionCacheSize"]!);
        Assert.Equal("10m", (string?)https["sessionCacheTimeout"]);
        Assert.True(warned.Succeeded);
        Assert.Null(warned.Document!["tunnels"]!["https"]!["sessionCacheSize"]);
        Assert.Equal("90s", (string?)warned.Document!["tunnels"]!["https"]!["sessionCacheTimeout"]);
        Assert.Contains(warned.Warnings, w => w.Option == "sessionCacheSize" && w.Message.Contains("no Tunnel equivalent", StringComparison.Ordinal));
    }

    [Fact(Timeout = 20_000)]
    public async Task A_server_that_verified_nothing_is_refused_without_a_ca_and_warned_about_with_one()
    {
        var cert = _pki.IssueServer().Cert;
        var without = Write("open.conf", $"[https]\naccept = 443\nconnect = 80\ncert = {cert}\n");
        var withCa = Write("ca.conf", $"[https]\naccept = 443\nconnect = 80\ncert = {cert}\nCAfile = {_pki.CaPath}\n");

        var refused = await Task.Run(() => StunnelConverter.Convert(without, StunnelRole.Server));
        var converted = await Task.Run(() => StunnelConverter.Convert(withCa, StunnelRole.Server));

        var error = Assert.Single(refused.Errors);
        Assert.Equal($"{without}:1", error.Where);
        Assert.Contains("requires client certificates", error.Message, StringComparison.Ordinal);
        Assert.True(converted.Succeeded);
        Assert.Contains(converted.Warnings, w => w.Message.Contains("stunnel does not verify clients", StringComparison.Ordinal));
        Assert.Equal("localhost:80", (string?)converted.Document!["tunnels"]!["https"]!["upstreams"]![0]);
    }

    [Fact(Timeout = 20_000)]
    public async Task VerifyPeer_on_a_server_pins_the_client_certificates_listed_in_CAfile()
    {
        var (cert, key) = _pki.IssueServer("tunnel.example");
        var (siteCert, _) = _pki.IssueClient("site-a");
        var bundle = Path.Combine(_folder, "peers.pem");
        File.WriteAllText(bundle, File.ReadAllText(_pki.CaPath) + File.ReadAllText(siteCert));
        var path = Write("peer.conf", $"[tunnel]\naccept = 443\nconnect = 127.0.0.1:3128\ncert = {cert}\nkey = {key}\nCAfile = {bundle}\nverify = 3\n");

        var (conversion, options, errors) = await ConvertAndRead(path, StunnelRole.Server, ServerOptionsReader.Read);

        Assert.Empty(errors);
        using var site = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(siteCert));
        Assert.Equal(["spki:" + Tunnel.Tls.CertificateInfo.SpkiPin(site)], Assert.Single(options!.Tunnels).Allow);
        var warning = Assert.Single(conversion.Warnings, w => w.Option == "verify");
        Assert.Equal($"{path}:7", warning.Where);
        Assert.DoesNotContain("stunnel did not", warning.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task VerifyPeer_on_a_client_pins_the_server_certificate_and_says_the_chain_is_now_checked_too()
    {
        var (serverCert, _) = _pki.IssueServer("tunnel.example");
        var bundle = Path.Combine(_folder, "server-peer.pem");
        File.WriteAllText(bundle, File.ReadAllText(_pki.CaPath) + File.ReadAllText(serverCert));
        var path = Write("client-peer.conf", $"[site]\nclient = yes\naccept = 127.0.0.1:3129\nconnect = tunnel.example:443\nCAfile = {bundle}\nverifyPeer = yes\n");

        var (conversion, options, errors) = await ConvertAndRead(path, StunnelRole.Client, ClientOptionsReader.Read);

        Assert.Empty(errors);
        using var server = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(serverCert));
        Assert.Equal(Tunnel.Tls.CertificateInfo.SpkiHash(server), Assert.Single(Assert.Single(options!.Tunnels).ServerPins));
        Assert.Contains(conversion.Warnings, w => w.Option == "verifyPeer" && w.Message.Contains("stunnel did not", StringComparison.Ordinal));
        Assert.Contains(conversion.Warnings, w => w.Message.Contains("checks that the server certificate carries tunnel.example", StringComparison.Ordinal));
    }

    [Fact(Timeout = 20_000)]
    public async Task VerifyPeer_with_only_CA_certificates_in_CAfile_is_an_error_at_the_CAfile_line()
    {
        var path = Write("nopeer.conf", $"[tunnel]\naccept = 443\nconnect = 127.0.0.1:3128\ncert = {_pki.IssueServer().Cert}\nCAfile = {_pki.CaPath}\nverifyPeer = yes\n");

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Server));

        var error = Assert.Single(conversion.Errors);
        Assert.Equal(($"{path}:5", "CAfile"), (error.Where, error.Option));
        Assert.Contains("lists none", error.Message, StringComparison.Ordinal);
    }

    [Theory(Timeout = 20_000)]
    [InlineData("verify = 1", "without a certificate")]
    [InlineData("verifyChain = yes\nrequireCert = no", "without a certificate")]
    [InlineData("verify = 0", "does not verify clients")]
    [InlineData("verify = 2\nverifyChain = no", "does not verify clients")]
    public async Task A_weaker_stunnel_client_check_converts_with_a_warning_that_Tunnel_is_stricter(string lines, string warning)
    {
        var path = Write("weaker.conf", $"[tunnel]\naccept = 443\nconnect = 127.0.0.1:3128\ncert = {_pki.IssueServer().Cert}\nCAfile = {_pki.CaPath}\n{lines}\n");

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Server));

        Assert.True(conversion.Succeeded, string.Join("\n", conversion.Errors));
        var stated = Assert.Single(conversion.Warnings, w => w.Message.Contains(warning, StringComparison.Ordinal));
        Assert.Contains("tunnel-server refuses", stated.Message, StringComparison.Ordinal);
        Assert.Equal($"{path}:{5 + lines.Split('\n').Length}", stated.Where);
    }

    [Fact(Timeout = 20_000)]
    public async Task Protocol_connect_becomes_the_outbound_proxy_with_its_credentials()
    {
        var path = Write("proxy.conf", $"""
            [squid-parent]
            client = yes
            accept = 127.0.0.1:3129
            connect = proxy.site.example:8080
            protocol = connect
            protocolHost = tunnel.example:443
            protocolUsername = site-a
            protocolPassword = s3cret
            cert = {_pki.IssueClient().Cert}
            CAfile = {_pki.CaPath}
            verifyChain = yes
            checkHost = tunnel.example
            """);

        var (conversion, options, errors) = await ConvertAndRead(path, StunnelRole.Client, ClientOptionsReader.Read);

        Assert.Empty(errors);
        var tunnel = Assert.Single(options!.Tunnels);
        Assert.Equal([new HostPort("tunnel.example", 443)], tunnel.Servers);
        Assert.Equal(new HostPort("proxy.site.example", 8080), tunnel.Proxy!.Address);
        Assert.Equal("site-a", tunnel.Proxy.User);
        Assert.Equal("s3cret", tunnel.Proxy.Password);
        Assert.Contains(conversion.Warnings, w => w.Option == "protocolPassword" && w.Message.Contains("TUNNEL_PROXYPASSWORD", StringComparison.Ordinal));
    }

    [Fact(Timeout = 20_000)]
    public async Task The_sni_stunnel_sends_is_kept_when_it_differs_from_the_checked_name()
    {
        var path = Write("sni.conf", """
            [a]
            client = yes
            accept = 127.0.0.1:3129
            connect = 192.0.2.10:443
            verifyChain = yes
            checkHost = tunnel.example
            [b]
            client = yes
            accept = 127.0.0.1:3130
            connect = tunnel.example:443
            sni = cover.example
            [c]
            client = yes
            accept = 127.0.0.1:3131
            connect = tunnel.example:443
            sni =
            """);

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Client));

        Assert.True(conversion.Succeeded, string.Join("\n", conversion.Errors));
        var tunnels = conversion.Document!["tunnels"]!;
        Assert.Equal("192.0.2.10", (string?)tunnels["a"]!["sni"]);
        Assert.Equal("tunnel.example", (string?)tunnels["a"]!["serverName"]);
        Assert.Equal("cover.example", (string?)tunnels["b"]!["sni"]);
        Assert.Equal("", (string?)tunnels["c"]!["sni"]);
    }

    [Theory(Timeout = 20_000)]
    [InlineData("443", "*:443")]
    [InlineData(":::443", "*:443")]
    [InlineData("0.0.0.0:443", "*:443")]
    [InlineData("::1:8443", "[::1]:8443")]
    [InlineData("192.0.2.1:443", "192.0.2.1:443")]
    public async Task Accept_addresses_are_written_as_Tunnel_reads_them(string accept, string listen)
    {
        var path = Write("accept.conf", $"[a]\nclient = yes\naccept = {accept}\nconnect = 192.0.2.1:443\n");

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Client));

        Assert.True(conversion.Succeeded, string.Join("\n", conversion.Errors));
        Assert.Equal(listen, (string?)conversion.Document!["tunnels"]!["a"]!["listen"]);
        Assert.True(HostPort.TryParse(listen, out _, out var error), error);
    }

    [Fact(Timeout = 20_000)]
    public async Task Timeouts_map_to_durations_and_close_zero_means_do_not_wait()
    {
        var path = Write("timeouts.conf", "TIMEOUTconnect = 5\nTIMEOUTclose = 0\n[a]\nclient = yes\naccept = 127.0.0.1:1\nconnect = 192.0.2.1:443\nTIMEOUTidle = 90\n");

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Client));

        Assert.True(conversion.Succeeded, string.Join("\n", conversion.Errors));
        var root = conversion.Document!;
        Assert.Equal("5s", (string?)root["connectTimeout"]);
        Assert.Equal("1ms", (string?)root["closeTimeout"]);
        Assert.Equal("90s", (string?)root["tunnels"]!["a"]!["idleTimeout"]);
        Assert.Contains(conversion.Warnings, w => w.Option == "TIMEOUTclose" && w.Where == $"{path}:2");
    }

    [Fact(Timeout = 20_000)]
    public async Task Output_and_debug_become_the_log_settings()
    {
        var path = Write("log.conf", $"output = /var/log/stunnel4/stunnel.log\ndebug = daemon.7\n[a]\nclient = yes\naccept = 127.0.0.1:1\nconnect = 192.0.2.1:443\n");

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Client));

        Assert.True(conversion.Succeeded, string.Join("\n", conversion.Errors));
        Assert.Equal("/var/log/stunnel4/stunnel.log", (string?)conversion.Document!["log"]!["file"]);
        Assert.Equal("debug", (string?)conversion.Document!["log"]!["level"]);
        Assert.Equal($"{path}:2 (debug)", conversion.Origins["log:level"]);
    }

    [Fact(Timeout = 20_000)]
    public async Task An_error_in_a_converted_value_points_at_the_stunnel_line()
    {
        var path = Write("missing.conf", $"""
            [tunnel]
            accept = 443
            connect = 127.0.0.1:3128
            cert = {Path.Combine(_folder, "absent.pem")}
            CAfile = {_pki.CaPath}
            verifyChain = yes
            """);
        var errors = new List<ConfigError>();
        var warnings = new List<string>();

        var converted = await Task.Run(() => StunnelConfigLoader.Prepare(path, "auto", StunnelRole.Server, errors, warnings));
        var document = ConfigDocument.Load(path, new Dictionary<string, (string, string)>(), errors, new Dictionary<string, string>(), converted: converted);
        ServerOptionsReader.Read(document, errors);

        Assert.NotNull(converted);
        Assert.Contains(warnings, w => w.Contains("behaves differently from stunnel: tunnel-server requires every client", StringComparison.Ordinal));
        var error = Assert.Single(errors);
        Assert.Equal($"{path}:4 (cert)", error.Source);
        Assert.Equal("tunnels:tunnel:cert", error.Key);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task The_loader_leaves_json_alone_and_reports_conversion_errors_with_their_line()
    {
        var json = Write("tunnel.json", "{ \"listen\": \"127.0.0.1:0\" }");
        var stunnel = Write("bad.conf", "[a]\nclient = yes\naccept = 127.0.0.1:1\nconnect = 192.0.2.1:443\nexec = /bin/sh\n");
        var errors = new List<ConfigError>();
        var warnings = new List<string>();

        var none = await Task.Run(() => StunnelConfigLoader.Prepare(json, "auto", StunnelRole.Client, errors, warnings));
        var forcedJson = await Task.Run(() => StunnelConfigLoader.Prepare(stunnel, "json", StunnelRole.Client, errors, warnings));
        Assert.Empty(errors);
        var failed = await Task.Run(() => StunnelConfigLoader.Prepare(stunnel, "stunnel", StunnelRole.Client, errors, warnings));
        StunnelConfigLoader.Prepare(stunnel, "yaml", StunnelRole.Client, errors, warnings);

        Assert.Null(none);
        Assert.Null(forcedJson);
        Assert.Null(failed);
        Assert.Contains(errors, e => e.Source == $"{stunnel}:5" && e.Key == "exec" && e.Message.Contains("import-stunnel", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Source == "--config-format" && e.Message.Contains("auto, json or stunnel", StringComparison.Ordinal));
    }

    private async Task<(StunnelConversion Conversion, T? Options, List<ConfigError> Errors)> ConvertAndRead<T>(string path, StunnelRole role,
        Func<ConfigDocument, List<ConfigError>, T?> read)
        where T : class
    {
        var conversion = await Task.Run(() => StunnelConverter.Convert(path, role));
        Assert.True(conversion.Succeeded, string.Join("\n", conversion.Errors));
        var errors = new List<ConfigError>();
        var document = ConfigDocument.Load(path, new Dictionary<string, (string, string)>(), errors, new Dictionary<string, string>(),
            converted: new ConvertedFile(conversion.ToJson(), conversion.Origins));
        var options = errors.Count == 0 ? read(document, errors) : null;
        return (conversion, options, errors);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, text + "\n");
        return path;
    }

    public void Dispose()
    {
        _pki.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
