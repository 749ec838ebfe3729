namespace Tunnel.EndToEnd.Support;

/// <summary>How a <see cref="ProxyChain"/> differs from the default one on 127.0.0.1.</summary>
internal sealed record ChainOptions
{
    /// <summary>The name nginx serves (its certificate's CN and SAN) and the outer Squid resolves.</summary>
    public string TargetHostName { get; init; } = NginxTarget.HostName;

    /// <summary>The name in tunnel-server's certificate, which tunnel-client verifies (--server-name).</summary>
    public string ServerName { get; init; } = ProxyChain.ServerName;

    /// <summary>Extra tunnel-client flags (--sni, --alpn, timeouts).</summary>
    public IReadOnlyList<string> ClientArguments { get; init; } = [];

    /// <summary>Site, firewall and cloud namespaces: nginx, the outer Squid and tunnel-server (on the cloud address,
    /// port 443) run in the cloud, tunnel-client, the inner Squid and curl in the site. Null: everything on
    /// 127.0.0.1 of the test's own namespace.</summary>
    public Wire.FirewalledNetwork? Network { get; init; }

    /// <summary>Leave the inner Squid on the system's resolver (Squid's default) instead of loopback; see
    /// <see cref="SquidConfig.Inner"/>.</summary>
    public bool InnerSquidUsesSystemResolver { get; init; }

    /// <summary>Started once tunnel-server listens, with its address; tunnel-client then dials the middlebox.</summary>
    public Func<Sandbox, string, CancellationToken, Task<IMiddlebox>>? Middlebox { get; init; }
}
