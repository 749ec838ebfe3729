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
internal sealed partial class StunnelConverter
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
            case "sessioncachesize" or "sessioncachetimeout" or "session" when _role == StunnelRole.Client:
                Warn(line, "no effect on tunnel-client: it keeps the latest session of each server and resumes it; the server's cache (sessionCacheSize, sessionCacheTimeout) decides how long it stays resumable");
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
