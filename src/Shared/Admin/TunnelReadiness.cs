namespace Tunnel.Admin;

/// <summary>Whether one tunnel can serve, and what stops it, as /readyz reports it.</summary>
internal sealed record TunnelReadiness(
    string Name,
    bool Ready,
    IReadOnlyList<string> Problems,
    string Listen,
    DateTimeOffset? CertificateNotAfter,
    IReadOnlyList<BackendStatus> Backends);

/// <summary>One backend's health as the tunnel sees it.</summary>
internal sealed record BackendStatus(
    string Address,
    bool Up,
    string Circuit,
    int ActiveConnections,
    double? LastSuccessSecondsAgo,
    string? LastError);
