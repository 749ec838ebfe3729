namespace Tunnel.Balancing;

/// <summary>How connections to a set of backends are established and how their health is judged.</summary>
/// <param name="Strategy">Which healthy backend a new connection tries first.</param>
/// <param name="Retries">Further rounds over the backends after every one failed, with exponential backoff and
/// jitter (default 2). Establishment only: nothing is retried once a byte was forwarded.</param>
/// <param name="HedgeDelay">When an attempt has not finished after this long, race an attempt on the next backend
/// (a black-holed server then costs this much instead of the connect timeout); disabled when infinite.</param>
/// <param name="BreakDuration">How long a backend whose attempts keep failing is skipped before a trial (default 5 s).</param>
/// <param name="HealthCheckInterval">Active probe period (disabled when infinite).</param>
/// <param name="Budget">Upper bound on establishing one connection, across all attempts.</param>
internal sealed record BalancingOptions(
    BalancingStrategy Strategy,
    int Retries,
    TimeSpan HedgeDelay,
    TimeSpan BreakDuration,
    TimeSpan HealthCheckInterval,
    TimeSpan Budget);
