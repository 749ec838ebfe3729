using System.Globalization;
using System.Text.Json.Nodes;

namespace Tunnel.Config.Stunnel;

/// <summary>Turns a stunnel configuration into Tunnel's JSON configuration for one side: one tunnel per
/// <c>[service]</c> (under <c>tunnels</c>, named after the section), values every service inherits from stunnel's
/// global section as root defaults. Options Tunnel cannot honour are errors naming the file, line and option and
/// what to do instead; options with no effect are warnings; defaults that differ are stated as notes.</summary>
/// <remarks>The meaning of each option follows stunnel 5.68's manual and src/options.c: <c>verify = N</c> sets
/// requireCert (N ≥ 2), verifyChain (1 ≤ N ≤ 3) and verifyPeer (N ≥ 3), and a later verifyChain/verifyPeer/
/// requireCert line overrides it; a bare port in <c>connect</c> is the loopback address; several <c>connect</c>
/// lines are tried in order (<c>failover = prio</c>, the default) or in turn (<c>rr</c>); a client's SNI defaults to
/// the host of <c>protocolHost</c>, else of the first <c>connect</c>.</remarks>
internal sealed class StunnelConverter
{
    /// <summary>The system trust store's hashed folder on Debian, Ubuntu, Alpine and Fedora: as CApath on a client it
    /// means what Tunnel's client does without <c>ca</c>.</summary>
    private static readonly string[] SystemCaFolders = ["/etc/ssl/certs", "/etc/pki/tls/certs", "/etc/pki/ca-trust/extracted/pem"];

    private static readonly string[] Tls13Suites = ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"];

    /// <summary>SSL_CTX options that only forbid what Tunnel never does.</summary>
    private static readonly HashSet<string> HarmlessSslOptions = new(StringComparer.OrdinalIgnoreCase)
    {
        "NO_SSLv2", "NO_SSLv3", "NO_TLSv1", "NO_TLSv1_1", "NO_TLSv1.1", "NO_COMPRESSION", "SINGLE_ECDH_USE", "SINGLE_DH_USE",
        "CIPHER_SERVER_PREFERENCE", "NO_RENEGOTIATION", "NO_TICKET", "DONT_INSERT_EMPTY_FRAGMENTS", "ALL",
    };

    private readonly StunnelConfigFile _file;
    private readonly StunnelRole _role;
    private readonly string _workingDirectory;
    private readonly StunnelConversion _result = new();

    private StunnelConverter(StunnelConfigFile file, StunnelRole role, string workingDirectory)
    {
        _file = file;
        _role = role;
        _workingDirectory = workingDirectory;
    }

    /// <summary>Converts <paramref name="file"/> for <paramref name="role"/>. Relative paths in it are resolved
    /// against <paramref name="workingDirectory"/> (default: the current directory), as stunnel opens them.</summary>
    public static StunnelConversion Convert(StunnelConfigFile file, StunnelRole role, string? workingDirectory = null)
    {
        var converter = new StunnelConverter(file, role, workingDirectory ?? Directory.GetCurrentDirectory());
        converter.Run();
        return converter._result;
    }

    /// <summary>Reads <paramref name="path"/> and converts it.</summary>
    public static StunnelConversion Convert(string path, StunnelRole role, string? workingDirectory = null) =>
        Convert(StunnelConfigFile.Read(path), role, workingDirectory);

    // A global line every service inherits is checked once per service; it is reported once.
    private void Error(StunnelLine line, string message) => AddOnce(_result.Errors, StunnelProblem.At(line, message));

    private void Warn(StunnelLine line, string message) => AddOnce(_result.Warnings, StunnelProblem.At(line, message));

    private static void AddOnce(List<StunnelProblem> problems, StunnelProblem problem)
    {
        if (!problems.Contains(problem))
        {
            problems.Add(problem);
        }
    }

    private void Note(string note)
    {
        if (!_result.Notes.Contains(note))
        {
            _result.Notes.Add(note);
        }
    }

    private void Run()
    {
        _result.Errors.AddRange(_file.Errors);
        var sections = _file.Sections;
        var globalService = new List<StunnelLine>();
        foreach (var line in _file.Globals)
        {
            if (StunnelOptions.GlobalOnly.Contains(line.Option) || line.Option.Equals("setuid", StringComparison.OrdinalIgnoreCase) ||
                line.Option.Equals("setgid", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (StunnelOptions.ServiceLevel.Contains(line.Option))
            {
                globalService.Add(line);
            }
            else
            {
                Error(line, "not a stunnel option (stunnel 5.68 would refuse it too); check the spelling");
            }
        }

        foreach (var section in sections)
        {
            foreach (var line in section.Lines.Where(l => !StunnelOptions.ServiceLevel.Contains(l.Option)))
            {
                Error(line, StunnelOptions.GlobalOnly.Contains(line.Option)
                    ? "is a global option; move it above the first [section]"
                    : "not a stunnel option (stunnel 5.68 would refuse it too); check the spelling");
            }
        }

        // Options refused or ignored whatever the service: reported once, at their line.
        foreach (var line in _file.Globals.Concat(sections.SelectMany(s => s.Lines)))
        {
            CheckUnsupported(line);
        }

        var root = new JsonObject();
        ConvertGlobals(root);
        if (sections.Count == 0)
        {
            _result.Errors.Add(new StunnelProblem(_file.Path, null,
                "no [service] section: Tunnel needs at least one (stunnel's inetd mode, without sections, is not supported)"));
        }

        var drafts = new List<(string Name, Draft Draft)>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var section in sections)
        {
            if (!names.Add(section.Name))
            {
                _result.Errors.Add(new StunnelProblem(section.Where, null, $"a second section named [{section.Name}]; give each service its own name"));
                continue;
            }

            if (section.Name.Contains(':', StringComparison.Ordinal))
            {
                _result.Errors.Add(new StunnelProblem(section.Where, null,
                    $"[{section.Name}]: Tunnel uses the section name as a tunnel name, which may not contain ':'; rename the section"));
                continue;
            }

            var service = new Service(section, globalService);
            var client = service.Bool("client", this) ?? false;
            var role = client ? StunnelRole.Client : StunnelRole.Server;
            if (role != _role)
            {
                _result.Errors.Add(new StunnelProblem(service.Last("client")?.Where ?? section.Where, "client",
                    $"service [{section.Name}] is a stunnel {(client ? "client" : "server")} ({role.Setting()}{(service.Last("client") is null ? ", stunnel's default" : "")}): " +
                    $"it belongs to {role.Program()}; convert it with `{role.Program()} import-stunnel FILE` (a file with both kinds of service must be split in two)"));
                continue;
            }

            var draft = new Draft();
            if (_role == StunnelRole.Client)
            {
                ConvertClient(service, draft);
            }
            else
            {
                ConvertServer(service, draft);
            }

            ConvertCommon(service, draft);
            drafts.Add((section.Name, draft));
        }

        if (_result.Errors.Count > 0)
        {
            return;
        }

        Assemble(root, drafts);
        _result.Document = root;
    }

    private void CheckUnsupported(StunnelLine line)
    {
        var option = line.Option;
        var value = line.Value.Trim();
        if (StunnelOptions.Refused.TryGetValue(option, out var refusal) && !option.Equals("CApath", StringComparison.OrdinalIgnoreCase))
        {
            Error(line, refusal);
            return;
        }

        if (StunnelOptions.NoEffect.TryGetValue(option, out var why))
        {
            Warn(line, why);
            return;
        }

        switch (option.ToLowerInvariant())
        {
            case "fips" when IsYes(value):
                Error(line, "FIPS mode is not a Tunnel setting; use a FIPS-validated OpenSSL configured system-wide (it applies to .NET), or remove it");
                break;
            case "libwrap" when IsYes(value):
                Error(line, "TCP Wrappers (hosts.allow) are not supported; restrict sources with a firewall, or identify clients by certificate ('allow')");
                break;
            case "renegotiation" when IsYes(value):
                Error(line, "TLS renegotiation is never allowed by Tunnel (TLS 1.3 has none); remove it or set renegotiation = no");
                break;
            case "renegotiation":
                Warn(line, "no effect: Tunnel never renegotiates");
                break;
            case "reset" when !IsYes(value):
                Error(line, "Tunnel always signals an error on one side with a TCP reset of the other, so a truncated stream never looks complete; remove 'reset = no'");
                break;
            case "retry" when !value.Equals("no", StringComparison.OrdinalIgnoreCase):
                Error(line, "reconnecting an exec+connect service is not supported (there is no exec); remove it");
                break;
            case "transparent" when !value.Equals("none", StringComparison.OrdinalIgnoreCase) && !value.Equals("no", StringComparison.OrdinalIgnoreCase):
                Error(line, "transparent proxying (TPROXY/original destination) is not supported; Tunnel forwards to its configured address only. To pass the client address on, use the PROXY protocol (protocol = proxy becomes upstreamProxyProtocol)");
                break;
            case "ocspaia" when IsYes(value):
                Error(line, "OCSP checks are not supported; remove it and revoke with a CRL (CRLfile; `certs revoke` and `certs crl` make one). A client checks the server's chain and name; pin its key with serverPins if you need more");
                break;
            case "sessionresume" when !IsYes(value):
                Warn(line, "no effect: Tunnel lets TLS sessions resume");
                break;
            case "log" when value.Equals("overwrite", StringComparison.OrdinalIgnoreCase):
                Warn(line, "no effect: Tunnel appends to its log file (and rolls it daily)");
                break;
            case "syslog" when IsYes(value):
                Warn(line, "Tunnel does not log to syslog: it logs to stderr (the journal under systemd) and to 'output' if set");
                break;
            case "setuid" or "setgid" when line.Section is null:
                Error(line, $"Tunnel does not change user after binding; remove {option} and run the service as that user (systemd: User=/Group=, with AmbientCapabilities=CAP_NET_BIND_SERVICE to bind a port below 1024)");
                break;
            case "setuid" or "setgid":
                Error(line, "Unix socket owners are not needed: Tunnel listens on TCP only; remove it");
                break;
            default:
                break;
        }
    }

    private void ConvertGlobals(JsonObject root)
    {
        StunnelLine? Last(string option) => _file.Globals.LastOrDefault(l => l.Option.Equals(option, StringComparison.OrdinalIgnoreCase));

        if (Last("output") is { } output)
        {
            var path = output.Value.Trim();
            if (path is "/dev/stdout" or "/dev/stderr" or "/dev/tty")
            {
                Warn(output, "Tunnel already logs to stderr; nothing to set");
            }
            else if (path.Length > 0)
            {
                Set(root, "log", "file", ResolvePath(output, path), output);
                Warn(output, "becomes log.file: Tunnel writes its own line format there (text, or JSON with log.format), rolled daily with 14 files kept; stunnel's log lines are not reproduced");
            }
        }

        var debug = Last("debug");
        foreach (var perService in _file.Sections.SelectMany(s => s.Lines).Where(l => l.Option.Equals("debug", StringComparison.OrdinalIgnoreCase)))
        {
            if (debug is null || ParseLevel(perService.Value) != ParseLevel(debug.Value))
            {
                Warn(perService, "Tunnel's log level is per process, not per service; the global debug level applies" + (debug is null ? " (none: information)" : ""));
            }
        }

        if (debug is not null)
        {
            var level = ParseLevel(debug.Value);
            if (level is null)
            {
                Error(debug, $"'{debug.Value}' is not a level: 0-7 or emerg, alert, crit, err, warning, notice, info, debug (optionally FACILITY.LEVEL)");
            }
            else
            {
                Set(root, "log", "level", level, debug);
            }
        }

        if (Last("pid") is { } pid && pid.Value.Trim().Length > 0)
        {
            Warn(pid, "Tunnel writes no PID file; systemd knows the main process (the shipped unit is Type=notify) and `systemctl kill -s HUP` reloads it. Update scripts that read this file");
        }

        if (Last("syslog") is null && Last("foreground") is null && Last("output") is null)
        {
            Note("stunnel logs to syslog by default; Tunnel logs to stderr (the journal under systemd). Set log.file for a file.");
        }
    }

    private static string? ParseLevel(string text)
    {
        var value = text.Trim();
        var dot = value.LastIndexOf('.');
        if (dot >= 0)
        {
            value = value[(dot + 1)..];
        }

        return value.ToLowerInvariant() switch
        {
            "0" or "emerg" or "1" or "alert" or "2" or "crit" or "3" or "err" => "error",
            "4" or "warning" => "warning",
            "5" or "notice" or "6" or "info" => "information",
            "7" or "debug" => "debug",
            _ => null,
        };
    }

    private void ConvertClient(Service service, Draft draft)
    {
        var protocol = service.Last("protocol");
        var connects = service.All("connect");
        var proxyMode = false;
        if (protocol is not null)
        {
            switch (protocol.Value.Trim().ToLowerInvariant())
            {
                case "connect":
                    proxyMode = true;
                    break;
                case "proxy":
                    Error(protocol, "tunnel-client does not send a PROXY protocol header; remove it (tunnel-server can send one to its upstream: upstreamProxyProtocol)");
                    break;
                default:
                    Error(protocol, $"protocol = {protocol.Value} (a STARTTLS-style or SOCKS negotiation) is not supported: Tunnel carries raw TCP in TLS. Only protocol = connect (through an HTTP proxy) maps");
                    break;
            }
        }

        StunnelLine? firstServer = null;
        if (proxyMode)
        {
            var host = service.Last("protocolHost");
            if (host is null)
            {
                Error(protocol!, "protocol = connect needs protocolHost = HOST:PORT (the server to reach through the proxy named in connect)");
            }
            else if (ParseAddress(host, passive: false) is { } server)
            {
                draft.Set("servers", new JsonArray(server), host);
                firstServer = host;
            }

            if (connects.Count > 1)
            {
                Error(connects[1], "with protocol = connect, Tunnel goes through one HTTP proxy; keep one connect line (the proxy)");
            }
            else if (connects.Count == 1 && ParseAddress(connects[0], passive: false) is { } proxy)
            {
                draft.Set("proxy", "http://" + proxy, connects[0]);
            }

            if (service.Last("protocolAuthentication") is { } auth && !auth.Value.Trim().Equals("basic", StringComparison.OrdinalIgnoreCase))
            {
                Error(auth, $"protocolAuthentication = {auth.Value}: only Basic proxy authentication is supported; use basic or ask for a proxy exception");
            }

            if (service.Last("protocolUsername") is { } user)
            {
                draft.Set("proxyUser", user.Value, user);
            }

            if (service.Last("protocolPassword") is { } password)
            {
                draft.Set("proxyPassword", password.Value, password);
                Warn(password, "becomes proxyPassword in the JSON; better keep it out of the file: TUNNEL_PROXYPASSWORD in the environment, or proxyPasswordFile (mode 600)");
            }
        }
        else
        {
            foreach (var option in new[] { "protocolHost", "protocolUsername", "protocolPassword", "protocolAuthentication" })
            {
                if (service.Last(option) is { } line)
                {
                    Warn(line, "no effect without protocol = connect (as in stunnel)");
                }
            }

            var servers = new JsonArray();
            foreach (var connect in connects)
            {
                if (ParseAddress(connect, passive: false) is { } address)
                {
                    servers.Add(address);
                }
            }

            if (connects.Count == 0)
            {
                _result.Errors.Add(new StunnelProblem(service.Section.Where, "connect",
                    $"service [{service.Section.Name}] has no connect: set connect = HOST:PORT (the tunnel-server or stunnel server)"));
            }
            else
            {
                draft.Set("servers", servers, connects[0]);
                firstServer = connects[0];
            }
        }

        // The name the server certificate must carry.
        var checkHosts = service.All("checkHost");
        var checkIps = service.All("checkIP");
        var names = checkHosts.Concat(checkIps).ToList();
        if (names.Count > 1)
        {
            Error(names[1], $"tunnel-client checks one name (serverName); stunnel accepts any of {names.Count} here. Keep the one the server certificate carries");
        }
        else if (names.Count == 1)
        {
            draft.Set("serverName", names[0].Value.Trim(), names[0]);
        }

        var (_, verifyChain, verifyPeer, verifyLine) = Verification(service);
        if (verifyPeer && PeerPins(service, verifyLine!, verifyChain) is { } pins)
        {
            draft.Set("serverPins", new JsonArray(pins.Select(p => (JsonNode)JsonValue.Create(p)!).ToArray()), verifyLine);
        }

        var serverHost = firstServer is null ? null : HostOf(firstServer.Value);
        if (!verifyChain && !verifyPeer)
        {
            var from = service.Last("CAfile") is null ? "the system trust store" : "CAfile";
            Warn(verifyLine ?? service.Header("client"),
                $"stunnel does not verify the server in [{service.Section.Name}] (no verifyChain); tunnel-client always does: its chain against {from}, and its name against " +
                (names.Count == 1 ? $"checkHost/checkIP ({names[0].Value.Trim()})" : $"the server's host ({serverHost})") +
                ". Make sure the server certificate passes, or the tunnel will refuse it");
        }
        else if (names.Count == 0)
        {
            Warn(verifyLine ?? service.Header("verifyChain"),
                $"stunnel checks no name in [{service.Section.Name}] (no checkHost/checkIP); tunnel-client checks that the server certificate carries {serverHost}. Set checkHost to the name it carries if it differs");
        }

        if (service.Last("CAfile") is null && service.Last("CApath") is null)
        {
            Note("A tunnel-client without CAfile verifies the server against the system trust store; a server certificate from a private CA needs CAfile (the 'ca' key).");
        }

        // SNI: stunnel sends sni, else protocolHost's host, else the first connect host; Tunnel sends serverName.
        var tunnelName = names.Count == 1 ? names[0].Value.Trim() : serverHost;
        if (service.Last("sni") is { } sni)
        {
            if (sni.Value.Trim() != tunnelName)
            {
                draft.Set("sni", sni.Value.Trim(), sni);
            }
        }
        else if (serverHost is not null && serverHost != tunnelName)
        {
            draft.Set("sni", serverHost, firstServer);
        }

        if (service.Last("failover") is { } failover)
        {
            draft.Set("strategy", Strategy(failover), failover);
        }

        if (service.Last("CRLfile") is { } crl)
        {
            Error(crl, "tunnel-client does not check a CRL for the server certificate; remove it (revoke a server by reissuing it from the CA and pinning with serverPins if needed)");
        }

        if (service.Last("requireCert") is { } require && IsYes(require.Value))
        {
            Warn(require, "no effect on a client (a server always presents a certificate)");
        }

        if (service.Last("redirect") is { } redirect)
        {
            Error(redirect, "redirect applies to a server; remove it");
        }

        if (service.Last("cert") is null)
        {
            Warn(service.Header("cert"),
                $"[{service.Section.Name}] presents no client certificate: tunnel-server refuses a client without one. Set cert (and key) to the client's certificate");
        }

        // stunnel makes one TLS connection per accepted connection and never probes: so does the converted client,
        // whatever is on the other side (a stunnel server dials its upstream for every pooled connection or probe).
        draft.Set("poolSize", 0, null);
        draft.Set("healthCheckInterval", "0", null);
        Note("poolSize and healthCheckInterval are 0, as stunnel behaves (one TLS connection per accepted connection, no probes). Once the server side runs tunnel-server, remove both for warm connections and health checks.");
    }

    private void ConvertServer(Service service, Draft draft)
    {
        var connects = service.All("connect");
        if (connects.Count == 0)
        {
            _result.Errors.Add(new StunnelProblem(service.Section.Where, "connect",
                $"service [{service.Section.Name}] has no connect: set connect = HOST:PORT (the upstream, e.g. 127.0.0.1:3128); exec is not supported"));
        }
        else
        {
            var upstreams = new JsonArray();
            foreach (var connect in connects)
            {
                if (ParseAddress(connect, passive: false) is { } address)
                {
                    upstreams.Add(address);
                }
            }

            draft.Set("upstreams", upstreams, connects[0]);
        }

        if (service.Last("protocol") is { } protocol)
        {
            if (protocol.Value.Trim().Equals("proxy", StringComparison.OrdinalIgnoreCase))
            {
                draft.Set("upstreamProxyProtocol", "v1", protocol);
            }
            else
            {
                Error(protocol, $"protocol = {protocol.Value} is not supported on tunnel-server: it forwards raw TCP to its upstream. Only protocol = proxy maps (upstreamProxyProtocol v1)");
            }
        }

        foreach (var option in new[] { "protocolHost", "protocolUsername", "protocolPassword", "protocolAuthentication" })
        {
            if (service.Last(option) is { } line)
            {
                Error(line, "belongs to protocol = connect, which only a client does; remove it");
            }
        }

        if (service.Last("sni") is { } sni)
        {
            Error(sni, "name-based virtual services (sni = SERVICE:PATTERN) are not supported; give each service its own accept port");
        }

        if (service.Last("failover") is { } failover)
        {
            draft.Set("upstreamStrategy", Strategy(failover), failover);
        }

        if (service.Last("CRLfile") is { } crl)
        {
            draft.Set("crl", ResolvePath(crl, crl.Value.Trim()), crl);
        }

        var (requireCert, verifyChain, verifyPeer, verifyLine) = Verification(service);
        var allow = new JsonArray();
        if (verifyPeer)
        {
            if (PeerPins(service, verifyLine!, verifyChain) is { } pins)
            {
                foreach (var pin in pins)
                {
                    allow.Add("spki:" + pin);
                }
            }

            if (service.All("checkHost") is [var both, ..])
            {
                Error(both, "with verifyPeer, stunnel requires the pinned certificate and the name; Tunnel's 'allow' admits a client matching any entry. Keep verifyPeer or checkHost, not both");
            }
        }
        else if (service.Last("CAfile") is null)
        {
            _result.Errors.Add(new StunnelProblem(verifyLine?.Where ?? service.Section.Where, verifyLine?.Option ?? "CAfile",
                $"service [{service.Section.Name}]: tunnel-server requires client certificates (mutual TLS) chained to a CA, and this service has no CAfile. " +
                "Set CAfile to the CA that issued the clients' certificates (and verifyChain = yes); stunnel accepted any client here"));
        }
        else if (!verifyChain)
        {
            Warn(verifyLine ?? service.Header("verifyChain"),
                $"stunnel does not verify clients in [{service.Section.Name}] (no verifyChain); tunnel-server refuses every client without a valid certificate chained to CAfile (not expired, clientAuth usage{(service.Last("CRLfile") is null ? "" : ", not revoked")})");
        }
        else if (!requireCert)
        {
            Warn(verifyLine!, $"stunnel lets clients without a certificate into [{service.Section.Name}] (verify = 1, or requireCert = no); tunnel-server refuses them");
        }

        foreach (var host in verifyPeer ? [] : service.All("checkHost"))
        {
            allow.Add("dns:" + host.Value.Trim());
            allow.Add("cn:" + host.Value.Trim());
        }

        if (allow.Count > 0 && verifyPeer)
        {
            draft.Set("allow", allow, verifyLine);
        }
        else if (allow.Count > 0)
        {
            draft.Set("allow", allow, service.All("checkHost")[0]);
            Note("checkHost on a server becomes 'allow' with dns:NAME and cn:NAME: a client is admitted when its DNS SAN or its subject CN is the name (OpenSSL looks at the CN only without DNS SANs).");
        }

        if (service.All("checkIP") is [var ip, ..])
        {
            Error(ip, "tunnel-server cannot match a client certificate's IP address; use checkHost (becomes 'allow': dns:/cn:) or 'allow' with cn:, dns:, uri: or spki:");
        }

        if (service.Last("redirect") is { } redirect && ParseAddress(redirect, passive: false) is { } decoy)
        {
            draft.Set("decoy", decoy, redirect);
            Warn(redirect, "becomes 'decoy': clients whose certificate fails go there, as in stunnel; in Tunnel that also covers clients with no certificate at all");
        }

        // stunnel connects to the upstream as soon as a client is accepted; keep that for protocols where the upstream
        // speaks first. For an HTTP proxy upstream, first-byte saves an upstream connection per idle client connection.
        draft.Set("upstreamDial", "handshake", null);
        Note("upstreamDial is 'handshake' (stunnel dials the upstream for every accepted client). For an HTTP proxy upstream such as Squid, 'first-byte' saves an upstream connection per idle client connection.");
        Note("tunnel-server requires every client to present a certificate chained to 'ca' (stunnel verifies nothing unless verifyChain/verify is set).");
    }

    private void ConvertCommon(Service service, Draft draft)
    {
        var accepts = service.All("accept");
        if (accepts.Count == 0)
        {
            _result.Errors.Add(new StunnelProblem(service.Section.Where, "accept",
                $"service [{service.Section.Name}] has no accept: set accept = [HOST:]PORT (inetd mode is not supported)"));
        }
        else if (accepts.Count > 1)
        {
            Error(accepts[1], "a Tunnel tunnel listens on one address; make a [service] per address (or accept = PORT for every address)");
        }
        else if (ParseAddress(accepts[0], passive: true) is { } listen)
        {
            draft.Set("listen", listen, accepts[0]);
        }

        if (service.Last("cert") is { } cert)
        {
            var path = cert.Value.Trim();
            if (path.Contains(':', StringComparison.Ordinal) && !Path.IsPathRooted(path) && path.StartsWith("pkcs11", StringComparison.OrdinalIgnoreCase))
            {
                Error(cert, "PKCS#11 URIs are not supported; use a PEM or PKCS#12 file");
            }
            else if (path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase))
            {
                draft.Set("pkcs12", ResolvePath(cert, path), cert);
                Note("A PKCS#12 file with a password needs passwordEnv or passwordFile (stunnel asked for it on the terminal).");
            }
            else
            {
                draft.Set("cert", ResolvePath(cert, path), cert);
            }
        }

        if (service.Last("key") is { } key)
        {
            if (key.Value.Trim().StartsWith("pkcs11", StringComparison.OrdinalIgnoreCase))
            {
                Error(key, "PKCS#11 URIs are not supported; use a PEM key file");
            }
            else if (service.Last("cert") is null)
            {
                Error(key, "key without cert; set cert to the certificate it belongs to");
            }
            else
            {
                draft.Set("key", ResolvePath(key, key.Value.Trim()), key);
                Note("Tunnel refuses a private key that group or others can read (stunnel does not): chmod 600 the key files.");
            }
        }

        if (service.Last("CAfile") is { } caFile)
        {
            draft.Set("ca", ResolvePath(caFile, caFile.Value.Trim()), caFile);
        }

        if (service.Last("CApath") is { } caPath)
        {
            var folder = caPath.Value.Trim().TrimEnd('/');
            if (_role == StunnelRole.Client && SystemCaFolders.Contains(folder, StringComparer.Ordinal))
            {
                if (service.Last("CAfile") is null)
                {
                    Warn(caPath, "the system trust store: tunnel-client uses it when 'ca' is not set, so nothing is written");
                }
                else
                {
                    Error(caPath, "Tunnel uses either a CA bundle (CAfile) or the system trust store, not both; remove CApath, or CAfile and use the system store");
                }
            }
            else
            {
                Error(caPath, StunnelOptions.Refused["CApath"]);
            }
        }

        ConvertVersions(service, draft);
        ConvertCiphers(service);
        ConvertTimeouts(service, draft);
        ConvertSockets(service, draft);
        if (service.Last("delay") is { } delay && IsYes(delay.Value))
        {
            Warn(delay, "no effect: Tunnel resolves connect names at every connection (and a name that does not resolve at start is not an error)");
        }

        // Unknown yes/no values would make stunnel refuse the file; say so here too.
        foreach (var option in new[] { "client", "verifyChain", "verifyPeer", "requireCert", "delay", "reset", "sessionResume", "libwrap", "renegotiation", "OCSPaia" })
        {
            _ = service.Bool(option, this);
        }
    }

    private void ConvertVersions(Service service, Draft draft)
    {
        StunnelLine? min = null;
        StunnelLine? max = null;
        foreach (var line in service.Ordered)
        {
            switch (line.Option.ToLowerInvariant())
            {
                case "sslversion":
                    min = line;
                    max = line;
                    break;
                case "sslversionmin":
                    min = line;
                    break;
                case "sslversionmax":
                    max = line;
                    break;
                default:
                    break;
            }
        }

        var minVersion = min is null ? null : Version(min);
        var maxVersion = max is null ? null : Version(max);
        if (max is not null && maxVersion is not null && maxVersion < 1.3m)
        {
            Error(max, $"{max.Option} = {max.Value}: Tunnel cannot cap the version below TLS 1.3 (it negotiates 1.3 with any peer offering it); remove it" +
                (maxVersion < 1.2m ? " (and TLS below 1.2 is never used)" : ""));
        }

        if (min is not null && minVersion is not null)
        {
            if (minVersion >= 1.3m)
            {
                draft.Set("tlsMinVersion", "1.3", min);
            }
            else
            {
                draft.Set("tlsMinVersion", "1.2", min);
                if (minVersion < 1.2m)
                {
                    Warn(min, $"{min.Value} is below TLS 1.2, which Tunnel never negotiates: the minimum becomes TLS 1.2");
                }
            }
        }
        else if (min is null)
        {
            Note("TLS versions: stunnel accepts TLS 1.2 and 1.3 (OpenSSL 3's floor); Tunnel accepts 1.3 only unless tlsMinVersion is 1.2. Any current stunnel, OpenSSL or Tunnel peer speaks 1.3; set sslVersionMin = TLSv1.2 (tlsMinVersion 1.2) for an older peer.");
        }
    }

    private decimal? Version(StunnelLine line)
    {
        switch (line.Value.Trim().ToLowerInvariant())
        {
            case "all":
                return line.Option.Equals("sslVersionMax", StringComparison.OrdinalIgnoreCase) ? 1.3m : 0m;
            case "sslv2" or "sslv3":
                return 0.3m;
            case "tlsv1" or "tlsv1.0":
                return 1.0m;
            case "tlsv1.1":
                return 1.1m;
            case "tlsv1.2":
                return 1.2m;
            case "tlsv1.3":
                return 1.3m;
            default:
                Error(line, $"'{line.Value}' is not a protocol version: all, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3");
                return null;
        }
    }

    private void ConvertCiphers(Service service)
    {
        var tls12Possible = !(service.Last("sslVersionMin") is { } min && min.Value.Trim().Equals("TLSv1.3", StringComparison.OrdinalIgnoreCase)) &&
            !(service.Last("sslVersion") is { } both && both.Value.Trim().Equals("TLSv1.3", StringComparison.OrdinalIgnoreCase)) &&
            (service.Last("sslVersionMin") is not null || service.Last("sslVersion") is not null);
        if (service.Last("ciphers") is { } ciphers)
        {
            if (tls12Possible)
            {
                Error(ciphers, "TLS 1.2 cipher lists are not configurable: Tunnel uses OpenSSL's default TLS 1.2 suites (ECDHE with AES-GCM or ChaCha20). Remove ciphers, or make TLS 1.3 the minimum (sslVersionMin = TLSv1.3), where it has no effect");
            }
            else
            {
                Warn(ciphers, "no effect: 'ciphers' only governs TLS 1.2 and below, and the converted tunnel speaks TLS 1.3 only");
            }
        }

        if (service.Last("ciphersuites") is { } suites)
        {
            var listed = suites.Value.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (listed.Length == Tls13Suites.Length && Tls13Suites.All(s => listed.Contains(s, StringComparer.OrdinalIgnoreCase)))
            {
                Warn(suites, "no effect: these are the TLS 1.3 suites Tunnel offers (OpenSSL's defaults)");
            }
            else
            {
                Error(suites, $"TLS 1.3 suites are not configurable: Tunnel offers OpenSSL's defaults ({string.Join(", ", Tls13Suites)}) and the peer picks. Remove ciphersuites");
            }
        }

        if (service.Last("options") is not null)
        {
            foreach (var line in service.All("options"))
            {
                var name = line.Value.Trim().TrimStart('-');
                if (line.Value.Trim().StartsWith('-'))
                {
                    Error(line, $"options = {line.Value} turns on something Tunnel never allows; remove it");
                }
                else if (HarmlessSslOptions.Contains(name))
                {
                    Warn(line, $"no effect: Tunnel never does what {name} forbids (only TLS 1.2 and 1.3, no compression, no renegotiation)");
                }
                else
                {
                    Error(line, $"the OpenSSL option {name} is not configurable in Tunnel; remove it");
                }
            }
        }
    }

    private void ConvertTimeouts(Service service, Draft draft)
    {
        void Map(string option, string key, int stunnelDefault, int tunnelDefault)
        {
            var line = service.Last(option);
            if (line is null)
            {
                if (stunnelDefault != tunnelDefault)
                {
                    draft.Set(key, Seconds(stunnelDefault), null);
                    Note($"{key} is {Seconds(stunnelDefault)}, stunnel's default for {option} (Tunnel's own default is {Seconds(tunnelDefault)}).");
                }

                return;
            }

            if (!int.TryParse(line.Value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            {
                Error(line, $"'{line.Value}' is not a number of seconds");
                return;
            }

            if (seconds == 0 && option == "TIMEOUTclose")
            {
                // stunnel: 0 means do not wait for the peer's close_notify. Tunnel's 0 would mean wait without a bound.
                draft.Set(key, "1ms", line);
                Warn(line, "0 (do not wait for the peer to finish) becomes closeTimeout 1ms: the other direction is cut as soon as one side has finished");
                return;
            }

            if (seconds == 0)
            {
                Error(line, $"0 is not a {option} Tunnel accepts; give a number of seconds");
                return;
            }

            draft.Set(key, Seconds(seconds), line);
        }

        Map("TIMEOUTconnect", "connectTimeout", 10, 10);
        Map("TIMEOUTidle", "idleTimeout", 43200, 3600);
        Map("TIMEOUTclose", "closeTimeout", 60, 60);
    }

    private static string Seconds(int seconds) =>
        seconds % 3600 == 0 ? $"{seconds / 3600}h" : seconds % 60 == 0 ? $"{seconds / 60}m" : $"{seconds}s";

    private void ConvertSockets(Service service, Draft draft)
    {
        foreach (var line in service.All("socket"))
        {
            var text = line.Value.Trim();
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            var equals = text.IndexOf('=', StringComparison.Ordinal);
            if (colon != 1 || equals < colon || "alr".IndexOf(char.ToLowerInvariant(text[0])) < 0)
            {
                Error(line, $"'{text}' is not a socket option: write a|l|r:OPTION=VALUE");
                continue;
            }

            var side = char.ToLowerInvariant(text[0]);
            var name = text[2..equals].Trim().ToUpperInvariant();
            var value = text[(equals + 1)..].Trim();
            switch (name)
            {
                case "SO_KEEPALIVE" when side != 'a':
                    if (IsYes(value))
                    {
                        draft.Set("keepAlive", true, line);
                        Warn(line, "Tunnel turns keepalive on for both sockets by default (idle 60 s, interval 15 s, 4 probes)");
                    }
                    else
                    {
                        draft.Set("keepAlive", false, line);
                        Warn(line, "becomes keepAlive false, for both sockets of the tunnel (Tunnel does not set it per side)");
                    }

                    break;
                case "SO_REUSEPORT" when side == 'a':
                    draft.Set("reusePort", IsYes(value), line);
                    break;
                case "SO_REUSEADDR" when side == 'a' && IsYes(value):
                case "TCP_NODELAY" when IsYes(value):
                    Warn(line, $"no effect: Tunnel already sets {name}");
                    break;
                case "TCP_KEEPIDLE" or "TCP_KEEPINTVL" or "TCP_KEEPCNT":
                    Error(line, $"{name} is fixed in Tunnel (keepalive idle 60 s, interval 15 s, 4 probes); remove it, or turn keepalive off with SO_KEEPALIVE=no");
                    break;
                default:
                    Error(line, $"the socket option {name} ({side}:) is not configurable in Tunnel; remove it");
                    break;
            }
        }
    }

    private (bool RequireCert, bool VerifyChain, bool VerifyPeer, StunnelLine? Line) Verification(Service service)
    {
        bool require = false, chain = false, peer = false;
        StunnelLine? last = null;
        foreach (var line in service.Ordered)
        {
            switch (line.Option.ToLowerInvariant())
            {
                case "verify":
                    if (!int.TryParse(line.Value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var level) || level > 4)
                    {
                        Error(line, $"'{line.Value}' is not a verify level (0-4); better, use verifyChain = yes");
                        continue;
                    }

                    require = level >= 2;
                    chain = level is >= 1 and <= 3;
                    peer = level >= 3;
                    last = line;
                    break;
                case "verifychain":
                    // As stunnel: yes also requires a certificate; no leaves requireCert as it was.
                    chain = IsYes(line.Value);
                    require |= chain;
                    last = line;
                    break;
                case "verifypeer":
                    peer = IsYes(line.Value);
                    require |= peer;
                    last = line;
                    break;
                case "requirecert":
                    require = IsYes(line.Value);
                    last = line;
                    break;
                default:
                    break;
            }
        }

        return (require, chain, peer, last);
    }

    /// <summary>verifyPeer: the peer must present one of the certificates in CAfile. Tunnel pins their keys (the
    /// SHA-256 of each SubjectPublicKeyInfo) on top of the chain check, so the certificates are read now.</summary>
    private List<string>? PeerPins(Service service, StunnelLine verifyLine, bool verifyChain)
    {
        if (service.Last("CAfile") is not { } caFile)
        {
            Error(verifyLine, "verifyPeer needs CAfile (the peer certificates it accepts); set CAfile");
            return null;
        }

        var path = ResolvePath(caFile, caFile.Value.Trim());
        var certificates = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            Error(caFile, $"verifyPeer pins the certificates in CAfile, and '{path}' cannot be read here ({ex.Message}); run import-stunnel where the file is");
            return null;
        }

        var leaves = certificates.Where(c => !c.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority)).ToList();
        if (leaves.Count == 0)
        {
            Error(caFile, "verifyPeer accepts only the peer certificates listed in CAfile, and it lists none (only CA certificates); add them, or use verifyChain alone");
            return null;
        }

        var pins = leaves.Select(Tls.CertificateInfo.SpkiPin).Distinct(StringComparer.Ordinal).ToList();
        foreach (var certificate in certificates)
        {
            certificate.Dispose();
        }

        Warn(verifyLine, $"verifyPeer becomes {(_role == StunnelRole.Client ? "serverPins" : "'allow' with spki:")} pins of the {pins.Count} peer certificate{(pins.Count == 1 ? "" : "s")} in {path}: " +
            "their keys are pinned (a renewed certificate with the same key still passes), and the chain is verified against CAfile too" +
            (verifyChain ? "" : " (stunnel did not: a self-signed certificate listed there passes; one issued by a CA missing from CAfile would be refused, so add that CA)"));
        return pins;
    }

    private static string Strategy(StunnelLine line) =>
        line.Value.Trim().Equals("rr", StringComparison.OrdinalIgnoreCase) ? "round-robin" : "failover";

    private static bool IsYes(string value) => value.Trim().Equals("yes", StringComparison.OrdinalIgnoreCase);

    /// <summary>stunnel's <c>[HOST:]PORT</c> (the port after the last colon; IPv6 hosts unbracketed) as Tunnel's
    /// <c>host:port</c>. A bare port listens on every address, or connects to the loopback address.</summary>
    private string? ParseAddress(StunnelLine line, bool passive)
    {
        var text = line.Value.Trim();
        if (text.StartsWith('/'))
        {
            Error(line, $"'{text}' is a Unix socket; Tunnel {(passive ? "listens" : "connects")} on TCP only");
            return null;
        }

        var colon = text.LastIndexOf(':');
        var host = colon < 0 ? "" : text[..colon].Trim('[', ']');
        var portText = colon < 0 ? text : text[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            Error(line, $"'{portText}' is not a port number (1-65535); Tunnel needs the number, not a service name");
            return null;
        }

        if (host.Length == 0)
        {
            // stunnel: a bare port binds every address (:: with IPv6) or connects to the loopback address.
            return passive ? $"*:{port}" : $"localhost:{port}";
        }

        if (passive && host is "0.0.0.0" or "::")
        {
            Warn(line, $"{host} becomes '*', every IPv4 and IPv6 address");
            return $"*:{port}";
        }

        return host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port}" : $"{host}:{port}";
    }

    private static string? HostOf(string address)
    {
        var text = address.Trim();
        var colon = text.LastIndexOf(':');
        var host = colon < 0 ? "localhost" : text[..colon].Trim('[', ']');
        return host.Length == 0 ? "localhost" : host;
    }

    private string ResolvePath(StunnelLine line, string path)
    {
        if (Path.IsPathRooted(path))
        {
            return path;
        }

        var full = Path.GetFullPath(Path.Combine(_workingDirectory, path));
        Warn(line, $"relative path: stunnel opens it from its working directory; written as {full} (Tunnel would resolve it against the configuration file's folder)");
        return full;
    }

    private void Set(JsonObject root, string? section, string key, JsonNode value, StunnelLine origin)
    {
        var target = root;
        if (section is not null)
        {
            target = root[section] as JsonObject ?? new JsonObject();
            root[section] = target;
        }

        target[key] = value;
        _result.Origins[section is null ? key : section + ":" + key] = $"{origin.Where} ({origin.Option})";
    }

    private void Set(JsonObject root, string? section, string key, string value, StunnelLine origin) =>
        Set(root, section, key, JsonValue.Create(value), origin);

    private void Assemble(JsonObject root, List<(string Name, Draft Draft)> drafts)
    {
        // A value every tunnel has, from stunnel's global section (or a default the conversion adds), is a root default.
        var perTunnelOnly = new HashSet<string>(StringComparer.Ordinal) { "listen", "servers", "upstreams" };
        var shared = new List<string>();
        if (drafts.Count > 0)
        {
            foreach (var (key, first) in drafts[0].Draft.Keys)
            {
                if (perTunnelOnly.Contains(key))
                {
                    continue;
                }

                if (drafts.All(d => d.Draft.Keys.TryGetValue(key, out var other) && other.FromGlobal && JsonNode.DeepEquals(other.Value, first.Value)))
                {
                    shared.Add(key);
                }
            }
        }

        foreach (var key in shared.OrderBy(Order))
        {
            var entry = drafts[0].Draft.Keys[key];
            root[key] = entry.Value.DeepClone();
            if (entry.Origin is { } origin)
            {
                _result.Origins[key] = $"{origin.Where} ({origin.Option})";
            }
        }

        var tunnels = new JsonObject();
        foreach (var (name, draft) in drafts)
        {
            var tunnel = new JsonObject();
            foreach (var (key, entry) in draft.Keys.Where(k => !shared.Contains(k.Key)).OrderBy(k => Order(k.Key)))
            {
                tunnel[key] = entry.Value.DeepClone();
                if (entry.Origin is { } origin)
                {
                    _result.Origins[$"tunnels:{name}:{key}"] = $"{origin.Where} ({origin.Option})";
                }
            }

            tunnels[name] = tunnel;
        }

        root["tunnels"] = tunnels;
    }

    private static int Order(string key)
    {
        string[] order = ["listen", "servers", "upstreams", "serverName", "sni", "proxy", "proxyUser", "proxyPassword", "cert", "key", "pkcs12", "ca", "crl", "allow"];
        var index = Array.IndexOf(order, key);
        return index < 0 ? order.Length : index;
    }

    /// <summary>Keys of one tunnel as they are converted, with the stunnel line behind each.</summary>
    private sealed class Draft
    {
        public Dictionary<string, (JsonNode Value, StunnelLine? Origin, bool FromGlobal)> Keys { get; } = new(StringComparer.Ordinal);

        public void Set(string key, JsonNode value, StunnelLine? origin) => Keys[key] = (value, origin, origin is null || origin.Section is null);

        public void Set(string key, string value, StunnelLine? origin) => Set(key, JsonValue.Create(value), origin);

        public void Set(string key, int value, StunnelLine? origin) => Set(key, JsonValue.Create(value), origin);

        public void Set(string key, bool value, StunnelLine? origin) => Set(key, JsonValue.Create(value), origin);
    }

    /// <summary>One service's effective options: the service-level options of the global section, then its own.</summary>
    private sealed class Service(StunnelSection section, IReadOnlyList<StunnelLine> globals)
    {
        public StunnelSection Section { get; } = section;

        public IReadOnlyList<StunnelLine> Ordered { get; } = globals.Concat(section.Lines).ToList();

        /// <summary>The line that sets <paramref name="option"/> last (the section's over the global one).</summary>
        public StunnelLine? Last(string option) => Ordered.LastOrDefault(l => l.Option.Equals(option, StringComparison.OrdinalIgnoreCase));

        /// <summary>Every line of a repeatable option: the section's, or else the global section's.</summary>
        public List<StunnelLine> All(string option)
        {
            var own = Section.Lines.Where(l => l.Option.Equals(option, StringComparison.OrdinalIgnoreCase)).ToList();
            return own.Count > 0 ? own : globals.Where(l => l.Option.Equals(option, StringComparison.OrdinalIgnoreCase)).ToList();
        }

        /// <summary>A stand-in line at the section header, for problems about an option that is absent.</summary>
        public StunnelLine Header(string option) => new(Section.File, Section.Line, Section.Name, option, "");

        public bool? Bool(string option, StunnelConverter converter)
        {
            var line = Last(option);
            if (line is null)
            {
                return null;
            }

            switch (line.Value.Trim().ToLowerInvariant())
            {
                case "yes":
                    return true;
                case "no":
                    return false;
                default:
                    if (!converter._result.Errors.Any(e => e.Where == line.Where && e.Option == line.Option))
                    {
                        converter.Error(line, $"'{line.Value}' must be yes or no");
                    }

                    return null;
            }
        }
    }
}
