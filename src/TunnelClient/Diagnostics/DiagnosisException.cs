namespace Tunnel.Client.Diagnostics;

/// <summary>A failed diagnostic step: what was found and what to do.</summary>
internal sealed class DiagnosisException(string message, string? advice) : Exception(message)
{
    public string? Advice => advice;
}
