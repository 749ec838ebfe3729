using System.Security.Cryptography.X509Certificates;
using Tunnel.Common;

namespace Tunnel.Certs.Cli;

/// <summary><c>certs revoke NAME|SERIAL</c>: records the revocation in the index. The CRL is a separate step so a
/// batch of revocations becomes one CRL, and so the operator decides when servers see it.</summary>
internal static class RevokeCommand
{
    public static async Task<int> RunAsync(RevokeOptions options, CertsContext context)
    {
        var reason = X509RevocationReason.Unspecified;
        if (options.Reason is not null && !RevocationReasons.TryParse(options.Reason, out reason))
        {
            throw CliValues.Usage($"--reason '{options.Reason}' is not a revocation reason: use {RevocationReasons.Names}");
        }

        using var folder = PkiFolder.Open(options.Directory(context), write: true);
        var entry = Resolve(folder.Index, options.Target!, folder.Layout.Directory);
        if (entry.Kind == CertificateKind.Root)
        {
            throw new CertsException("a root CA cannot be revoked (nothing above it signs a CRL): replace it with `certs init-ca --force` and distribute the new ca-bundle.pem");
        }

        var what = $"{Output.Kind(entry.Kind)} '{entry.Name}' (serial {entry.Serial})";
        if (entry.Status == EntryStatus.Revoked)
        {
            await context.Out.WriteLineAsync($"{what} was already revoked on {CliValues.Date(entry.RevokedAt ?? default)} ({RevocationReasons.Name(entry.Reason ?? X509RevocationReason.Unspecified)}); nothing changed");
            return ExitCodes.Ok;
        }

        var now = context.Time.GetUtcNow();
        folder.Save(folder.Index.Replace(entry, entry with { Status = EntryStatus.Revoked, RevokedAt = now, Reason = reason }));
        await context.Out.WriteLineAsync($"revoked {what}, reason {RevocationReasons.Name(reason)}; recorded in {folder.Layout.Index}");
        await context.Out.WriteLineAsync($"the CRL is not updated yet: run `certs crl` to rewrite {folder.Layout.Crl}, copy it to the servers, and reload them (SIGHUP)");
        if (entry.Kind == CertificateKind.Intermediate)
        {
            await context.Out.WriteLineAsync("every certificate the intermediate signed is now invalid for peers that check the root's CRL; this folder can no longer issue. Start over with `certs init-ca --force`");
        }
        else if (entry.IsCurrent)
        {
            await context.Out.WriteLineAsync($"to replace it: `certs issue {Output.Kind(entry.Kind)} {entry.Name} ...` (a new key; the revoked files move to renewed/)");
        }

        var othersValid = folder.Index.Certificates
            .Where(e => e.Name == entry.Name && e.Serial != entry.Serial && e.Status == EntryStatus.Valid && e.NotAfter > now && !e.IsCa)
            .Select(e => e.Serial).ToList();
        if (othersValid.Count > 0)
        {
            await context.Out.WriteLineAsync($"note: other certificates for '{entry.Name}' are still valid: {string.Join(", ", othersValid)} (revoke them by serial if the key was shared or stolen)");
        }

        return ExitCodes.Ok;
    }

    /// <summary>A name (its current certificate) or a serial (exact, or a unique prefix of at least 6 digits).</summary>
    public static IndexEntry Resolve(PkiIndex index, string target, string directory)
    {
        if (index.Current(target) is { } byName)
        {
            return byName;
        }

        if (CliValues.Serial(target) is { } serial)
        {
            if (index.BySerial(serial) is { } exact)
            {
                return exact;
            }

            var matches = serial.Length >= 6
                ? index.Certificates.Where(e => e.Serial.StartsWith(serial, StringComparison.OrdinalIgnoreCase)).ToList()
                : [];
            if (matches.Count == 1)
            {
                return matches[0];
            }

            if (matches.Count > 1)
            {
                throw new CertsException($"serial prefix '{target}' matches {matches.Count} certificates ({string.Join(", ", matches.Select(m => m.Serial))}); give more digits");
            }
        }

        throw new CertsException($"no certificate named or numbered '{target}' in {directory}; `certs list` shows them");
    }
}
