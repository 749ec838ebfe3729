using System.Globalization;

namespace Tunnel.Config.Stunnel;

/// <summary>The options both sides share: accept, the certificate and CA files, TLS versions and ciphers, timeouts, socket options.</summary>
internal sealed partial class StunnelConverter
{
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
}
