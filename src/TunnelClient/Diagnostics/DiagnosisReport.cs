using Tunnel.Certs;

namespace Tunnel.Client.Diagnostics;

/// <summary>Everything <c>diagnose</c> found; also its <c>--json</c> form.</summary>
internal sealed record DiagnosisReport(bool Ok, IReadOnlyList<DiagnosticStep> Steps, IReadOnlyList<TunnelDiagnosis> Tunnels);

/// <summary>One tunnel: its own checks (certificates) and one diagnosis per server.</summary>
internal sealed record TunnelDiagnosis(string Name, bool Ok, IReadOnlyList<DiagnosticStep> Steps, IReadOnlyList<ServerDiagnosis> Servers);

/// <summary>One server: the checks in order, the chain it presented and the verdict on it.</summary>
/// <param name="Verdict">trusted, intercepted, unknown-ca, expired, not-yet-valid, name-mismatch, pin-mismatch,
/// wrong-usage or invalid; null when no certificate was seen.</param>
internal sealed record ServerDiagnosis(string Server, bool Ok, IReadOnlyList<DiagnosticStep> Steps, IReadOnlyList<CertificateDescription> PresentedChain,
    string? Verdict);
