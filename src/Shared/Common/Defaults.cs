namespace Tunnel.Common;

/// <summary>Default values, as text, shared by the help output, the configuration reader and the docs.</summary>
internal static class Defaults
{
    public const string ConnectTimeout = "10s";
    public const string HandshakeTimeout = "10s";
    public const string IdleTimeout = "1h";
    public const string FirstByteTimeout = "15s";
    public const string CloseTimeout = "60s";
    public const string MaxLifetime = "off";
    public const string ShutdownTimeout = "30s";
    public const string TlsMinVersion = "1.3";
    public const string KeepAlive = "on";
    public const string TcpUserTimeout = "30s";
    public const string LogLevel = "information";
    public const string LogFormat = "text";
    public const string CertExpiryWarning = "30d";
    public const string WatchInterval = "5s";
    public const int Backlog = 1024;
    public const string Strategy = "failover";
    public const int Retries = 2;
    public const string HedgeDelay = "1s";
    public const string BreakDuration = "5s";
    public const string HealthCheckInterval = "10s";
    public const int PoolSize = 2;
    public const string PoolMaxAge = "30s";
    public const int MultiplexConnections = 2;
    public const int MultiplexStreams = 1024;
    public const int ServerMultiplexStreams = 4096;

    /// <summary>Resumable sessions tunnel-server keeps, and for how long (stunnel's defaults).</summary>
    public const int SessionCacheSize = 1000;

    public const string SessionCacheTimeout = "300s";
}
