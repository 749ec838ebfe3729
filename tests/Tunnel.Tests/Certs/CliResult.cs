namespace Tunnel.Tests.Certs;

/// <summary>What one in-process <c>certs</c> run produced.</summary>
internal sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}
