namespace Tunnel.Admin;

/// <summary>A tunnel that can say whether it is ready.</summary>
internal interface IReadinessSource
{
    TunnelReadiness Readiness(DateTimeOffset now);
}
