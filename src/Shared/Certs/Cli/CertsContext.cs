namespace Tunnel.Certs.Cli;

/// <summary>What a <c>certs</c> command touches outside its arguments: the two output streams, the clock and the
/// environment. Tests pass their own; <see cref="FromConsole"/> is the real process.</summary>
/// <param name="Out">Results (stdout).</param>
/// <param name="Error">Errors and warnings (stderr).</param>
/// <param name="Time">The clock validity periods and statuses are computed from.</param>
/// <param name="Environment">Reads an environment variable (<c>TUNNEL_PKI_DIR</c>, <c>--password-env</c>).</param>
internal sealed record CertsContext(TextWriter Out, TextWriter Error, TimeProvider Time, Func<string, string?> Environment)
{
    public static CertsContext FromConsole() =>
        new(Console.Out, Console.Error, TimeProvider.System, System.Environment.GetEnvironmentVariable);
}
