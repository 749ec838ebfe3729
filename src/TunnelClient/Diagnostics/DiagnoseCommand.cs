using System.Diagnostics;
using System.Text.Json;
using Tunnel.Cli;
using Tunnel.Client.Cli;
using Tunnel.Client.Options;
using Tunnel.Client.Tls;
using Tunnel.Common;
using Tunnel.Config;
using Tunnel.Tls;

namespace Tunnel.Client.Diagnostics;

/// <summary><c>tunnel-client diagnose</c>: the support engineer's first command when a site reports "no
/// connection". Reads the same configuration as <c>run</c>, checks everything between this host and the upstream
/// proxy, and exits 0 only when every step passes.</summary>
internal static class DiagnoseCommand
{
    public static async Task<int> RunAsync(DiagnoseOptions flags, TextWriter stdout, TimeProvider time, CancellationToken cancellationToken = default)
    {
        var report = await DiagnoseAsync(flags, time, cancellationToken);
        if (flags.Json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(report, DiagnosisJsonContext.Default.DiagnosisReport));
        }
        else
        {
            await DiagnosisWriter.WriteAsync(report, stdout);
        }

        return report.Ok ? ExitCodes.Ok : ExitCodes.Failure;
    }

    public static async Task<DiagnosisReport> DiagnoseAsync(DiagnoseOptions flags, TimeProvider time, CancellationToken cancellationToken)
    {
        var steps = new List<DiagnosticStep>();
        var watch = Stopwatch.StartNew();
        if (flags.ConfigFile is null && flags.Listen is null)
        {
            flags.Listen = "127.0.0.1:0"; // diagnose opens no listener; the flags-only form need not invent one
        }

        var errors = new List<ConfigError>();
        var stunnelWarnings = new List<string>();
        var converted = Config.Stunnel.StunnelConfigLoader.Prepare(flags.ConfigFile, flags.ConfigFormat, flags.StunnelRole, errors, stunnelWarnings);
        var document = ConfigDocument.Load(flags.ConfigFile, FlagMapper.ToConfigKeys(flags), errors, flagNames: FlagMapper.FlagNames(typeof(ClientRunOptions)), converted: converted);
        var options = errors.Count == 0 ? ClientOptionsReader.Read(document, errors) : null;
        if (options is null)
        {
            steps.Add(new DiagnosticStep("configuration", false, watch.Elapsed.TotalMilliseconds,
                string.Join("; ", errors), "fix the settings named above (docs/configuration.md)"));
            return new DiagnosisReport(false, steps, []);
        }

        var tunnels = options.Tunnels.Where(t => flags.Tunnel is null || t.Name == flags.Tunnel).ToList();
        if (tunnels.Count == 0)
        {
            steps.Add(new DiagnosticStep("configuration", false, watch.Elapsed.TotalMilliseconds,
                $"no tunnel named '{flags.Tunnel}'", $"the configuration defines: {string.Join(", ", options.Tunnels.Select(t => t.Name))}"));
            return new DiagnosisReport(false, steps, []);
        }

        steps.Add(new DiagnosticStep("configuration", true, watch.Elapsed.TotalMilliseconds,
            $"{options.Tunnels.Count} tunnel(s) valid{(flags.ConfigFile is null ? "" : $" in {flags.ConfigFile}")}"));

        var probe = new Uri(flags.ProbeUrl ?? "http://tunnel-diagnose.invalid/");
        var results = new List<TunnelDiagnosis>();
        foreach (var tunnel in tunnels)
        {
            results.Add(await DiagnoseTunnelAsync(tunnel, options.Process, probe, time, cancellationToken));
        }

        return new DiagnosisReport(results.All(t => t.Ok), steps, results);
    }

    private static async Task<TunnelDiagnosis> DiagnoseTunnelAsync(ClientTunnelOptions tunnel, ProcessOptions process, Uri probe, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var steps = new List<DiagnosticStep>();
        var watch = Stopwatch.StartNew();
        ClientTlsState tls;
        try
        {
            tls = ClientTlsState.Load(tunnel, time);
        }
        catch (CertificateLoadException ex)
        {
            steps.Add(new DiagnosticStep("certificates", false, watch.Elapsed.TotalMilliseconds, ex.Message, null));
            return new TunnelDiagnosis(tunnel.Name, false, steps, []);
        }

        var now = time.GetUtcNow();
        var identity = tls.Identity is { } id
            ? $"client {CertificateInfo.ShortName(id.Certificate)} valid until {id.NotAfter:yyyy-MM-dd} ({(id.NotAfter - now).TotalDays:0} days)"
            : "no client certificate";
        var trust = tls.Trust is { } bundle ? $"CA bundle {bundle.Source} ({bundle.Roots.Count} root(s))" : "system trust store";
        var expiringSoon = tls.Identity is { } soon && soon.NotAfter - now <= process.CertificateExpiryWarning;
        steps.Add(new DiagnosticStep("certificates", tls.Identity is not null && !expiringSoon, watch.Elapsed.TotalMilliseconds, $"{identity}; {trust}",
            tls.Identity is null ? "tunnel-server requires a client certificate: set cert and key"
                : expiringSoon ? "renew the client certificate soon (certs renew NAME on the CA host)" : null));

        var servers = new List<ServerDiagnosis>();
        var diagnoser = new ServerDiagnoser(tunnel, tls, probe, time);
        foreach (var server in tunnel.Servers)
        {
            servers.Add(await diagnoser.RunAsync(server, cancellationToken));
        }

        return new TunnelDiagnosis(tunnel.Name, steps.All(s => s.Ok) && servers.All(s => s.Ok), steps, servers);
    }
}
