using System.Diagnostics.CodeAnalysis;
using CommandLine;
using Tunnel.Common;

namespace Tunnel.Cli;

/// <summary>Flags both daemons accept for <c>run</c>. Each maps to one configuration key; a flag overrides that key
/// in every tunnel of the process.</summary>
/// <remarks>The annotation keeps the public properties of this class and of every subclass in trimmed and Native AOT
/// builds, where <see cref="FlagMapper"/> reads them by reflection from <c>GetType()</c>.</remarks>
[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)]
internal abstract class CommonRunOptions
{
    [Option('c', "config", HelpText = "JSON configuration file (or a stunnel.conf); may define several tunnels. Environment variables TUNNEL_<KEY> (with __ between levels) override it, flags override both.")]
    public string? ConfigFile { get; set; }

    [Option("config-format", HelpText = "Format of the --config file: json, stunnel (a stunnel.conf, converted as `import-stunnel` shows), or auto (stunnel when the file does not start with '{'). Default: auto")]
    public string? ConfigFormat { get; set; }

    /// <summary>Which stunnel services this daemon runs when --config is a stunnel.conf (client = yes or no).</summary>
    internal abstract Config.Stunnel.StunnelRole StunnelRole { get; }

    [Option("listen", HelpText = "Address to accept connections on, host:port ('*:port' for every address).")]
    [ConfigKey("listen")]
    public string? Listen { get; set; }

    [Option("cert", HelpText = "PEM certificate chain (leaf first); may also contain the key.")]
    [ConfigKey("cert")]
    public string? Cert { get; set; }

    [Option("key", HelpText = "PEM private key, when not in the --cert file. Must not be readable by group or others.")]
    [ConfigKey("key")]
    public string? Key { get; set; }

    [Option("pkcs12", HelpText = "PKCS#12 bundle with certificate, chain and key, instead of --cert/--key.")]
    [ConfigKey("pkcs12")]
    public string? Pkcs12 { get; set; }

    [Option("password-env", HelpText = "Environment variable holding the PKCS#12 or encrypted-key password.")]
    [ConfigKey("passwordEnv")]
    public string? PasswordEnv { get; set; }

    [Option("password-file", HelpText = "File whose first line is the PKCS#12 or encrypted-key password.")]
    [ConfigKey("passwordFile")]
    public string? PasswordFile { get; set; }

    [Option("ca", HelpText = "PEM bundle of CA certificates the peer's certificate must chain to.")]
    [ConfigKey("ca")]
    public string? Ca { get; set; }

    [Option("tls-min-version", HelpText = "Lowest TLS version: 1.3 or 1.2. Default: " + Defaults.TlsMinVersion)]
    [ConfigKey("tlsMinVersion")]
    public string? TlsMinVersion { get; set; }

    [Option("connect-timeout", HelpText = "Time allowed to open the outgoing TCP connection. Default: " + Defaults.ConnectTimeout)]
    [ConfigKey("connectTimeout")]
    public string? ConnectTimeout { get; set; }

    [Option("handshake-timeout", HelpText = "Time allowed for the TLS handshake. Default: " + Defaults.HandshakeTimeout)]
    [ConfigKey("handshakeTimeout")]
    public string? HandshakeTimeout { get; set; }

    [Option("idle-timeout", HelpText = "Reset a connection after no byte moved either way for this long; 0 disables. Default: " + Defaults.IdleTimeout)]
    [ConfigKey("idleTimeout")]
    public string? IdleTimeout { get; set; }

    [Option("close-timeout", HelpText = "After one side finished sending, how long the other may keep sending. Default: " + Defaults.CloseTimeout)]
    [ConfigKey("closeTimeout")]
    public string? CloseTimeout { get; set; }

    [Option("max-lifetime", HelpText = "Reset connections older than this, busy or not; 0 disables. Default: " + Defaults.MaxLifetime)]
    [ConfigKey("maxLifetime")]
    public string? MaxLifetime { get; set; }

    [Option("keepalive", HelpText = "TCP keepalive on every connection: on or off. Default: " + Defaults.KeepAlive)]
    [ConfigKey("keepAlive")]
    public string? KeepAlive { get; set; }

    [Option("tcp-user-timeout", HelpText = "A connection whose sent data stays unacknowledged this long fails instead of hanging on a silent path (TCP_USER_TIMEOUT); 0 leaves the kernel's ~15 min. Default: " + Defaults.TcpUserTimeout)]
    [ConfigKey("tcpUserTimeout")]
    public string? TcpUserTimeout { get; set; }

    [Option("max-connections", HelpText = "Concurrent connections per process; more wait in the kernel backlog. Default: derived from the open-file limit")]
    [ConfigKey("maxConnections")]
    public string? MaxConnections { get; set; }

    [Option("shutdown-timeout", HelpText = "On SIGTERM, how long in-flight connections may finish before they are reset. Default: " + Defaults.ShutdownTimeout)]
    [ConfigKey("shutdownTimeout")]
    public string? ShutdownTimeout { get; set; }

    [Option("watch-interval", HelpText = "How often certificate, CA, CRL and allow-list files are checked for changes (reloaded when changed); 0 disables, leaving SIGHUP. Default: " + Defaults.WatchInterval)]
    [ConfigKey("watchInterval")]
    public string? WatchInterval { get; set; }

    [Option("admin-listen", HelpText = "Serve /healthz, /readyz and /metrics (Prometheus) on this address; a bare port binds 127.0.0.1 only. Default: off")]
    [ConfigKey("admin:listen")]
    public string? AdminListen { get; set; }

    [Option("log-level", HelpText = "trace, debug, information, warning or error. Default: " + Defaults.LogLevel)]
    [ConfigKey("log:level")]
    public string? LogLevel { get; set; }

    [Option("log-format", HelpText = "text (human-readable) or json (one object per line). Default: " + Defaults.LogFormat)]
    [ConfigKey("log:format")]
    public string? LogFormat { get; set; }

    [Option("log-file", HelpText = "Also log to this file, rolled daily (14 kept); SIGUSR1 reopens it. Default: none")]
    [ConfigKey("log:file")]
    public string? LogFile { get; set; }

    [Option("quiet-connections", HelpText = "Log per-connection open/close lines at debug level. Default: false")]
    [ConfigKey("log:quietConnections")]
    public string? QuietConnections { get; set; }
}
