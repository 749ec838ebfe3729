using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Tunnel.Common;

namespace Tunnel.Certs.Cli;

/// <summary><c>certs list</c>: the index, with status worked out for today.</summary>
internal static class ListCommand
{
    public static async Task<int> RunAsync(ListOptions options, CertsContext context)
    {
        TimeSpan? window = options.Expiring is null ? null : CliValues.Duration(options.Expiring, "30d", "--expiring");
        using var folder = PkiFolder.Open(options.Directory(context), write: false);
        var now = context.Time.GetUtcNow();
        var rows = folder.Index.Certificates
            .Select(e => new ListRow(e.Kind, e.Name, e.Serial, PkiFolder.StatusOf(e, now), e.Subject, e.NotBefore, e.NotAfter,
                e.RevokedAt, e.Reason, e.SupersededBy, e.Certificate, e.Key))
            .Where(r => window is null || (r.Status != CertificateStatus.Revoked && r.SupersededBy is null && r.NotAfter <= now + window.Value))
            .OrderBy(r => r.Kind).ThenBy(r => r.Name, StringComparer.Ordinal).ThenBy(r => r.NotBefore)
            .ToList();

        if (options.Json)
        {
            var report = new ListReport(folder.Layout.Directory, folder.Index.CrlNumber, folder.Index.CrlNextUpdate, rows);
            await context.Out.WriteLineAsync(JsonSerializer.Serialize(report, CertsJsonContext.Default.ListReport));
            return ExitCodes.Ok;
        }

        if (rows.Count == 0)
        {
            await context.Out.WriteLineAsync(window is null ? "no certificates" : $"no certificate needs renewal within {Durations.Format(window.Value)}");
            return ExitCodes.Ok;
        }

        var nameWidth = Math.Max(4, rows.Max(r => r.Name.Length));
        var serialWidth = Math.Max(6, rows.Max(r => r.Serial.Length));
        await context.Out.WriteLineAsync($"{"KIND",-12} {"NAME".PadRight(nameWidth)} {"SERIAL".PadRight(serialWidth)} {"STATUS",-8} {"NOT AFTER",-20} NOTE");
        foreach (var row in rows)
        {
            var note = row.Status == CertificateStatus.Revoked ? $"{RevocationReasons.Name(row.Reason ?? X509RevocationReason.Unspecified)} on {CliValues.Date(row.RevokedAt ?? default)}"
                : row.SupersededBy is { } next ? $"renewed, replaced by {next}"
                : row.Status == CertificateStatus.Valid && row.NotAfter <= now.AddDays(30) ? $"expires in {(int)(row.NotAfter - now).TotalDays} days"
                : "";
            await context.Out.WriteLineAsync(
                $"{Output.Kind(row.Kind),-12} {row.Name.PadRight(nameWidth)} {row.Serial.PadRight(serialWidth)} {row.Status.ToString().ToLowerInvariant(),-8} {CliValues.Date(row.NotAfter),-20} {note}".TrimEnd());
        }

        if (window is null && folder.Index.CrlNextUpdate is { } next2 && next2 <= now)
        {
            await context.Error.WriteLineAsync($"warning: {folder.Layout.Crl} expired on {CliValues.Date(next2)}; run `certs crl`");
        }

        return ExitCodes.Ok;
    }
}
