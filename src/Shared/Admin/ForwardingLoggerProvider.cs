using Microsoft.Extensions.Logging;

namespace Tunnel.Admin;

/// <summary>Routes Kestrel's logging into the daemon's logger factory (Serilog), so there is one log stream.</summary>
internal sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => factory.CreateLogger(categoryName);

    public void Dispose()
    {
    }
}
