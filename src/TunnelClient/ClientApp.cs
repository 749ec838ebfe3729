using Microsoft.Extensions.Logging;
using Tunnel.Client.Options;
using Tunnel.Hosting;

namespace Tunnel.Client;

/// <summary>The composition root of tunnel-client: the generic daemon with one <see cref="ClientTunnel"/> per
/// configured tunnel. Used by the program and by in-process tests alike.</summary>
internal static class ClientApp
{
    public const string ProgramName = "tunnel-client";

    /// <summary>Loads every tunnel's certificates. Throws <see cref="Tunnel.Tls.CertificateLoadException"/> naming each
    /// tunnel whose material is unusable.</summary>
    public static DaemonApp<ClientOptions, ClientTunnelOptions, ClientTunnel> Create(ClientOptions options, ILoggerFactory loggers, TimeProvider time) =>
        new(ProgramName, options, loggers, time, static (tunnel, process, context) => new ClientTunnel(tunnel, process, context));
}
