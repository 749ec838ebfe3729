using Tunnel.Config;
using Tunnel.Hosting;

namespace Tunnel.Client.Options;

/// <summary>Everything tunnel-client runs with, validated.</summary>
internal sealed record ClientOptions(ProcessOptions Process, IReadOnlyList<ClientTunnelOptions> Tunnels) : IDaemonOptions<ClientTunnelOptions>;
