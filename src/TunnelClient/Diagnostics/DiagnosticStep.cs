namespace Tunnel.Client.Diagnostics;

/// <summary>One check of <c>diagnose</c>: its outcome, how long it took, what was found and, on failure, what to do.</summary>
internal sealed record DiagnosticStep(string Name, bool Ok, double? Milliseconds, string Detail, string? Advice = null);
