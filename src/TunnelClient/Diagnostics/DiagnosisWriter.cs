namespace Tunnel.Client.Diagnostics;

/// <summary>The human-readable form of a diagnosis: one line per step with its timing, the advice under a failure.</summary>
internal static class DiagnosisWriter
{
    public static async Task WriteAsync(DiagnosisReport report, TextWriter output)
    {
        foreach (var step in report.Steps)
        {
            await WriteStepAsync(output, step, "");
        }

        foreach (var tunnel in report.Tunnels)
        {
            await output.WriteLineAsync();
            await output.WriteLineAsync($"tunnel {tunnel.Name}");
            foreach (var step in tunnel.Steps)
            {
                await WriteStepAsync(output, step, "  ");
            }

            foreach (var server in tunnel.Servers)
            {
                await output.WriteLineAsync($"  server {server.Server}");
                foreach (var step in server.Steps)
                {
                    await WriteStepAsync(output, step, "    ");
                }

                foreach (var (certificate, index) in server.PresentedChain.Select((c, i) => (c, i)))
                {
                    await output.WriteLineAsync(
                        $"      chain[{index}] {certificate.Subject} <- {certificate.Issuer}, {certificate.NotBefore:yyyy-MM-dd}..{certificate.NotAfter:yyyy-MM-dd}, {certificate.SpkiPin}");
                }
            }
        }

        await output.WriteLineAsync();
        await output.WriteLineAsync(report.Ok ? "result: every check passed" : "result: FAILED (see the steps marked FAIL)");
    }

    private static async Task WriteStepAsync(TextWriter output, DiagnosticStep step, string indent)
    {
        var time = step.Milliseconds is { } ms ? $"{ms,7:0} ms" : "          ";
        await output.WriteLineAsync($"{indent}[{(step.Ok ? " ok " : "FAIL")}] {step.Name,-20}{time}  {step.Detail}");
        if (step.Advice is { } advice)
        {
            await output.WriteLineAsync($"{indent}       -> {advice}");
        }
    }
}
