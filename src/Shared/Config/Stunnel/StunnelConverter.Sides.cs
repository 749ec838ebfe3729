using System.Globalization;
using System.Text.Json.Nodes;

namespace Tunnel.Config.Stunnel;

/// <summary>The options that differ between a client and a server service: where it connects, how the peer is verified (verify, verifyChain, verifyPeer, checkHost, checkIP, CRLfile), SNI, the outbound proxy, PROXY protocol, redirect.</summary>
internal sealed partial class StunnelConverter
{
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
                    servers.Add((JsonNode?)JsonValue.Create(address));
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
                    upstreams.Add((JsonNode?)JsonValue.Create(address));
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

        ConvertSessionCache(service, draft);

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
                    allow.Add((JsonNode?)JsonValue.Create("spki:" + pin));
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
            allow.Add((JsonNode?)JsonValue.Create("dns:" + host.Value.Trim()));
            allow.Add((JsonNode?)JsonValue.Create("cn:" + host.Value.Trim()));
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

    /// <summary>stunnel's server session cache maps one to one (same defaults: 1000 sessions, 300 s), except its
    /// "0 = no limit", which Tunnel does not offer.</summary>
    private void ConvertSessionCache(Service service, Draft draft)
    {
        if (service.Last("sessionCacheSize") is { } size)
        {
            if (!int.TryParse(size.Value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var sessions))
            {
                Error(size, $"'{size.Value}' is not a number of sessions");
            }
            else if (sessions == 0)
            {
                Warn(size, "stunnel's 0 (no limit) has no Tunnel equivalent: sessionCacheSize stays 1000 (about 5 MiB); raise it if more clients should resume");
            }
            else
            {
                draft.Set("sessionCacheSize", sessions, size);
            }
        }

        // "session" is the older name of sessionCacheTimeout.
        if ((service.Last("sessionCacheTimeout") ?? service.Last("session")) is { } timeout)
        {
            if (!int.TryParse(timeout.Value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds == 0)
            {
                Error(timeout, $"'{timeout.Value}' is not a positive number of seconds");
            }
            else
            {
                draft.Set("sessionCacheTimeout", Seconds(seconds), timeout);
            }
        }
    }
}
