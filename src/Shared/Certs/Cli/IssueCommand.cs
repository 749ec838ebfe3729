using Tunnel.Common;

namespace Tunnel.Certs.Cli;

/// <summary><c>certs issue server|client NAME</c>: a leaf signed by the issuing CA.</summary>
internal static class IssueCommand
{
    public static async Task<int> RunAsync(IssueOptions options, CertsContext context)
    {
        var kind = CliValues.LeafKind(options.Kind);
        var name = CliValues.Name(options.Name);
        var dns = CliValues.DnsNames(options.Dns);
        var ips = CliValues.IpAddresses(options.Ip);
        var uris = CliValues.Uris(options.Uri);
        var crlUrls = CliValues.CrlUrls(options.CrlUrl);
        var key = CliValues.Key(options.Key);
        var days = CliValues.Days(options.Days, kind == CertificateKind.Server ? CertsDefaults.ServerDays : CertsDefaults.ClientDays);
        if (kind == CertificateKind.Server && dns.Count == 0 && ips.Count == 0)
        {
            // TLS clients match names against the SAN only (RFC 6125; .NET and OpenSSL ignore the CN), so a server
            // certificate without one would be useless.
            dns = CliValues.DnsNames(name);
        }

        using var folder = PkiFolder.Open(options.Directory(context), write: true);
        var current = folder.Index.Current(name);
        if (current is not null && current.Status != EntryStatus.Revoked && !options.Force)
        {
            throw new CertsException($"{Output.Kind(current.Kind)} '{name}' already exists (serial {current.Serial}, valid until {CliValues.Date(current.NotAfter)}): " +
                $"use `certs renew {name}` for a new key with the same names, or --force to replace it with these settings");
        }

        if (current is null)
        {
            PkiFolder.EnsureAbsent([folder.Layout.Combine(PkiLayout.RelativeCertificate(name)), folder.Layout.Combine(PkiLayout.RelativeKey(name))], options.Force,
                $"'{name}' is not in the index but its files exist");
        }

        using var ca = folder.LoadAuthority();
        var now = context.Time.GetUtcNow();
        await CheckIssuerAsync(folder.Index, ca, now, context);
        var spec = new CertificateSpec(kind, name, now - CertsDefaults.Backdate, now.AddDays(days))
        {
            Key = key,
            DnsNames = dns,
            IpAddresses = ips,
            Uris = uris,
            CrlDistributionPoints = crlUrls,
        };
        var issued = folder.IssueLeaf(ca, spec, current, overwriteFiles: options.Force, revokeReplaced: false, now);
        using (issued.Certificate)
        {
            await context.Out.WriteLineAsync($"issued {Output.Kind(kind)} certificate '{name}' (serial {issued.Entry.Serial}, {KeyAlgorithms.Describe(issued.Certificate)}) signed by '{ca.Issuing.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false)}'");
            await Output.LeafAsync(context.Out, folder.Layout, issued, ca.Intermediate is not null);
            await WarnIfClampedAsync(context, spec, issued);
            if (issued.Replaced is { } replaced)
            {
                await context.Out.WriteLineAsync($"the previous certificate (serial {replaced.Serial}) moved to {folder.Layout.Combine(replaced.Certificate)}; " +
                    (replaced.Status == EntryStatus.Revoked ? "it is revoked." : $"it stays valid until {CliValues.Date(replaced.NotAfter)} unless you revoke it (`certs revoke {replaced.Serial}`)."));
            }
        }

        return ExitCodes.Ok;
    }

    /// <summary>Refuses to sign with a CA that is revoked or expired: what it signs would be rejected everywhere.</summary>
    public static async Task CheckIssuerAsync(PkiIndex index, CertificateAuthority ca, DateTimeOffset now, CertsContext context)
    {
        var issuing = index.BySerial(PkiFolder.SerialOf(ca.Issuing));
        if (issuing?.Status == EntryStatus.Revoked)
        {
            throw new CertsException($"the issuing CA '{issuing.Subject}' is revoked; create a new CA with `certs init-ca --force` (and reissue every certificate)");
        }

        if (Output.NotAfter(ca.Issuing) <= now)
        {
            throw new CertsException($"the issuing CA '{ca.Issuing.Subject}' expired on {CliValues.Date(Output.NotAfter(ca.Issuing))}; create a new CA with `certs init-ca --force`");
        }

        if (Output.NotAfter(ca.Issuing) <= now.AddDays(30))
        {
            await context.Error.WriteLineAsync($"warning: the issuing CA '{ca.Issuing.Subject}' expires on {CliValues.Date(Output.NotAfter(ca.Issuing))}");
        }
    }

    public static async Task WarnIfClampedAsync(CertsContext context, CertificateSpec spec, IssuedLeaf issued)
    {
        if (issued.Entry.NotAfter < spec.NotAfter.AddMinutes(-1))
        {
            await context.Error.WriteLineAsync($"warning: the validity was shortened to end with the issuing CA's, on {CliValues.Date(issued.Entry.NotAfter)}");
        }
    }
}
