using Microsoft.Extensions.Logging;
using Tunnel.Admin;
using Tunnel.Balancing;
using Tunnel.Common;
using Tunnel.Logging;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Config;

/// <summary>Reads the settings both daemons share, so each side's options reader only adds its own.</summary>
internal static class CommonSettings
{
    /// <summary>Keys valid only at the root of a configuration.</summary>
    public static readonly string[] ProcessKeys = ["log", "admin", "shutdownTimeout", "maxConnections", "certExpiryWarning", "watchInterval"];

    /// <summary>Keys every tunnel has, on either side.</summary>
    public static readonly string[] TunnelKeys =
    [
        "listen", "cert", "key", "pkcs12", "passwordEnv", "passwordFile", "ca", "tlsMinVersion",
        "connectTimeout", "handshakeTimeout", "idleTimeout", "closeTimeout", "maxLifetime", "keepAlive", "tcpUserTimeout", "backlog", "reusePort",
    ];

    public static readonly IReadOnlyDictionary<string, IReadOnlySet<string>> Sections = new Dictionary<string, IReadOnlySet<string>>(StringComparer.OrdinalIgnoreCase)
    {
        ["log"] = new HashSet<string>(["level", "format", "file", "quietConnections"], StringComparer.OrdinalIgnoreCase),
        ["admin"] = new HashSet<string>(["listen"], StringComparer.OrdinalIgnoreCase),
    };

    private static readonly Dictionary<string, LogLevel> LogLevels = new()
    {
        ["trace"] = LogLevel.Trace,
        ["debug"] = LogLevel.Debug,
        ["information"] = LogLevel.Information,
        ["info"] = LogLevel.Information,
        ["warning"] = LogLevel.Warning,
        ["warn"] = LogLevel.Warning,
        ["error"] = LogLevel.Error,
    };

    private static readonly Dictionary<string, LogFormat> LogFormats = new()
    {
        ["text"] = LogFormat.Text,
        ["json"] = LogFormat.Json,
    };

    public static ConfigSchema Schema(IEnumerable<string> sideTunnelKeys, IEnumerable<string>? sideProcessKeys = null,
        IReadOnlyDictionary<string, IReadOnlySet<string>>? sideSections = null)
    {
        var sections = new Dictionary<string, IReadOnlySet<string>>(Sections, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, keys) in sideSections ?? new Dictionary<string, IReadOnlySet<string>>())
        {
            sections[name] = keys;
        }

        return new ConfigSchema(
            ProcessKeys.Concat(sideProcessKeys ?? []).ToHashSet(StringComparer.OrdinalIgnoreCase),
            TunnelKeys.Concat(sideTunnelKeys).ToHashSet(StringComparer.OrdinalIgnoreCase),
            sections);
    }

    public static ProcessOptions ReadProcess(SettingsReader root)
    {
        var log = new LogOptions(
            root.Choice("log:level", LogLevel.Information, LogLevels),
            root.Choice("log:format", LogFormat.Text, LogFormats),
            root.String("log:file") is { Length: > 0 } file ? CheckLogFolder(root, root.ResolvePath(file, fromFlag: false)) : null,
            root.Bool("log:quietConnections", false));
        var admin = ReadAdmin(root);
        var derived = FileDescriptorLimit.DefaultMaxConnections(admin.Listen is not null);
        var maxConnections = root.Int("maxConnections", derived, 1, 10_000_000);
        return new ProcessOptions(
            log,
            root.Duration("shutdownTimeout", Defaults.ShutdownTimeout, allowDisabled: false),
            maxConnections,
            root.Duration("certExpiryWarning", Defaults.CertExpiryWarning),
            root.Duration("watchInterval", Defaults.WatchInterval),
            admin)
        {
            ConfiguredMaxConnections = root.Find("maxConnections") is null ? null : maxConnections,
        };
    }

    /// <summary>The log file's folder must exist and be writable now: the file sink would otherwise drop every line
    /// without a word (a read-only root file system in a container, a missing /var/log/tunnel).</summary>
    private static string CheckLogFolder(SettingsReader root, string path)
    {
        var folder = System.IO.Path.GetDirectoryName(path) ?? ".";
        var probe = System.IO.Path.Combine(folder, $".tunnel-write-check-{Environment.ProcessId}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            root.ErrorAt("log:file", $"cannot write log files in '{folder}': {ex.Message.TrimEnd('.')}. " +
                "Fix: create the folder writable by the daemon's user, or (in a container with a read-only root file system) " +
                "mount a writable volume there (an emptyDir), or drop log.file: containers log to standard output");
        }

        return path;
    }

    /// <summary>The admin endpoint: off unless set; a bare port means loopback only.</summary>
    private static AdminOptions ReadAdmin(SettingsReader root)
    {
        var text = root.String("admin:listen")?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return AdminOptions.Off;
        }

        if (text.All(char.IsAsciiDigit))
        {
            if (int.TryParse(text, out var port) && port is >= 0 and <= 65535)
            {
                return new AdminOptions(new HostPort("127.0.0.1", port));
            }

            root.ErrorAt("admin:listen", $"'{text}' is not a port (0-65535)");
            return AdminOptions.Off;
        }

        return new AdminOptions(root.Address("admin:listen", "the admin endpoint address", required: false, allowWildcard: true));
    }

    public static TunnelTimeouts ReadTimeouts(SettingsReader tunnel) => new(
        tunnel.Duration("connectTimeout", Defaults.ConnectTimeout, allowDisabled: false),
        tunnel.Duration("handshakeTimeout", Defaults.HandshakeTimeout, allowDisabled: false),
        tunnel.Duration("idleTimeout", Defaults.IdleTimeout),
        tunnel.Duration("closeTimeout", Defaults.CloseTimeout),
        tunnel.Duration("maxLifetime", Defaults.MaxLifetime));

    public static KeepAliveOptions ReadKeepAlive(SettingsReader tunnel) =>
        (tunnel.Bool("keepAlive", true) ? KeepAliveOptions.Default : KeepAliveOptions.Off) with
        {
            UnacknowledgedTimeout = tunnel.Duration("tcpUserTimeout", Defaults.TcpUserTimeout),
        };

    public static ListenerOptions? ReadListener(SettingsReader tunnel, string what)
    {
        var address = tunnel.Address("listen", what, required: true, allowWildcard: true);
        return address is null
            ? null
            : new ListenerOptions(address.Value, tunnel.Int("backlog", Defaults.Backlog, 1, 65535), tunnel.Bool("reusePort", false));
    }

    private static readonly Dictionary<string, BalancingStrategy> Strategies = new()
    {
        ["failover"] = BalancingStrategy.Failover,
        ["round-robin"] = BalancingStrategy.RoundRobin,
        ["least-connections"] = BalancingStrategy.LeastConnections,
    };

    /// <summary>How a tunnel picks among its backends; <paramref name="prefix"/> names the keys
    /// (e.g. "upstream" gives upstreamStrategy, upstreamRetries...).</summary>
    public static BalancingOptions ReadBalancing(SettingsReader tunnel, TunnelTimeouts timeouts, string prefix, bool hedge)
    {
        string Key(string name) => prefix.Length == 0 ? name : prefix + char.ToUpperInvariant(name[0]) + name[1..];
        return new BalancingOptions(
            tunnel.Choice(Key("strategy"), BalancingStrategy.Failover, Strategies),
            tunnel.Int(Key("retries"), Defaults.Retries, 0, 10),
            hedge ? tunnel.Duration(Key("hedgeDelay"), Defaults.HedgeDelay) : Timeout.InfiniteTimeSpan,
            tunnel.Duration(Key("breakDuration"), Defaults.BreakDuration, allowDisabled: false),
            tunnel.Duration(Key("healthCheckInterval"), Defaults.HealthCheckInterval),
            timeouts.Connect + timeouts.Handshake);
    }

    public static TlsVersion ReadTlsMinVersion(SettingsReader tunnel) =>
        tunnel.Choice("tlsMinVersion", TlsVersion.Tls13, TlsVersions.Names);

    /// <summary>The tunnel's own certificate: PEM (cert, key) or PKCS#12, not both.</summary>
    public static IdentityOptions ReadIdentity(SettingsReader tunnel, bool required)
    {
        var cert = tunnel.FilePath("cert", "certificate file", required: false);
        var key = tunnel.FilePath("key", "private key file", required: false);
        var p12 = tunnel.FilePath("pkcs12", "PKCS#12 file", required: false);
        var passwordEnv = tunnel.String("passwordEnv");
        var passwordFile = tunnel.FilePath("passwordFile", "password file", required: false);

        if (cert is not null && p12 is not null)
        {
            tunnel.ErrorAt("pkcs12", "set either 'cert' (PEM) or 'pkcs12', not both");
        }

        if (key is not null && cert is null)
        {
            tunnel.ErrorAt("key", "'key' needs 'cert' (the certificate it belongs to)");
        }

        if (required && cert is null && p12 is null)
        {
            tunnel.ErrorAt("cert", "a certificate is required: set 'cert' (and 'key' if separate) or 'pkcs12'");
        }

        return new IdentityOptions(cert, key, p12, string.IsNullOrWhiteSpace(passwordEnv) ? null : passwordEnv.Trim(), passwordFile);
    }

    /// <summary>Names of the tunnels in the document, or one tunnel called "default" read from the root.</summary>
    public static IReadOnlyList<(string Name, string? Section)> Tunnels(ConfigDocument document)
    {
        var names = ConfigSchema.TunnelNames(document);
        return names.Count == 0
            ? [("default", null)]
            : names.Select(n => (n, (string?)(ConfigSchema.TunnelsSection + ":" + n))).ToList();
    }
}
