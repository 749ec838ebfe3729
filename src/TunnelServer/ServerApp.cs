using Microsoft.Extensions.Logging;
using Tunnel.Hosting;
using Tunnel.Server.Options;

namespace Tunnel.Server;

/// <summary>The composition root of tunnel-server: the generic daemon with one <see cref="ServerTunnel"/> per
/// configured tunnel. Used by the program and by in-process tests alike.</summary>
internal static class ServerApp
{
    public const string ProgramName = "tunnel-server";

    /// <summary>Loads every tunnel's certificates. Throws <see cref="Tunnel.Tls.CertificateLoadException"/> naming each
    /// tunnel whose material is unusable.</summary>
    public static DaemonApp<ServerOptions, ServerTunnelOptions, ServerTunnel> Create(ServerOptions options, ILoggerFactory loggers, TimeProvider time) =>
        new(ProgramName, options, loggers, time, static (tunnel, process, context) => new ServerTunnel(tunnel, process, context));
}
