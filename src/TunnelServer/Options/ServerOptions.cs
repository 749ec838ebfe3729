using Tunnel.Config;
using Tunnel.Hosting;

namespace Tunnel.Server.Options;

/// <summary>Everything tunnel-server runs with, validated.</summary>
internal sealed record ServerOptions(ProcessOptions Process, IReadOnlyList<ServerTunnelOptions> Tunnels) : IDaemonOptions<ServerTunnelOptions>;
