using Tunnel.Common;

namespace Tunnel.Certs;

/// <summary>A <c>certs</c> command cannot proceed. The message says what is wrong and what to do; the exit code is
/// <see cref="ExitCodes.Config"/> (invalid input or state) unless stated.</summary>
internal sealed class CertsException(string message, int exitCode = ExitCodes.Config) : Exception(message)
{
    public int ExitCode => exitCode;
}
