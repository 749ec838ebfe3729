using Tunnel.Tls;

namespace Tunnel.Certs.Cli;

/// <summary>The judgement of <c>inspect --ca</c>, as the daemons would reach it.</summary>
/// <param name="Trusted">True when a daemon with this CA would accept the certificate.</param>
/// <param name="Problem">What is wrong, in the daemons' terms (none, unknownIssuer, expired, wrongUsage, ...).</param>
/// <param name="Reason">One line for a human.</param>
/// <param name="Ca">The CA bundle judged against.</param>
/// <param name="Usage">server or client: the extended key usage required.</param>
internal sealed record VerdictReport(bool Trusted, PeerProblem Problem, string Reason, string Ca, string Usage);
