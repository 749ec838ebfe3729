namespace Tunnel.Server.Options;

/// <summary>When the server dials its upstream for an authenticated connection.</summary>
internal enum UpstreamDial
{
    /// <summary>When the client sends its first byte (the default): connections that carry nothing (probes, a
    /// client's warm pool) cost the upstream nothing. Right for client-speaks-first protocols such as HTTP proxies.</summary>
    FirstByte,

    /// <summary>Right after the handshake, for protocols where the upstream speaks first (SMTP, SSH).</summary>
    Handshake,
}
