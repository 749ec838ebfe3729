using Microsoft.Extensions.Logging;
using Tunnel.Admission;
using Tunnel.Metrics;

namespace Tunnel.Server.Admission;

/// <summary>tunnel-server's admission limits: <see cref="ConnectionAdmission"/> (shared with tunnel-client, in
/// src/Shared/Admission) under the name the server's connection handler uses. It adds nothing; it can go once that
/// handler refers to <see cref="ConnectionAdmission"/> itself.</summary>
internal sealed class AdmissionControl(AdmissionLimits limits, TunnelSeries metrics, ILogger logger, TimeProvider time)
    : ConnectionAdmission(limits, metrics, logger, time)
{
}
