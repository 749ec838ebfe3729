using System.Net;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Common;
using Tunnel.Tls;

namespace Tunnel.Certs.Cli;

/// <summary><c>certs renew NAME</c>: same subject, SANs and kind, a new key and serial. The old certificate is
/// kept valid (superseded) unless --revoke-old, so peers that still present it keep connecting until the new files
/// are deployed and the daemon reloaded.</summary>
internal static class RenewCommand
{
    public static async Task<int> RunAsync(RenewOptions options, CertsContext context)
    {
        var name = CliValues.Name(options.Name);
        using var folder = PkiFolder.Open(options.Directory(context), write: true);
        var current = folder.Index.Current(name)
            ?? throw new CertsException($"no certificate named '{name}' in {folder.Layout.Directory}; issue one with `certs issue server|client {name}`");
        if (current.Status == EntryStatus.Revoked)
        {
            throw new CertsException($"'{name}' (serial {current.Serial}) is revoked, so it is not renewed with the same settings; issue a new one with `certs issue {Output.Kind(current.Kind)} {name} ...`");
        }

        var path = folder.Layout.Combine(current.Certificate);
        X509Certificate2 old;
        try
        {
            old = X509CertificateLoader.LoadCertificateFromFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new CertsException($"cannot read the certificate to renew, {path}: {ex.Message}");
        }

        using (old)
        {
            var days = CliValues.Days(options.Days, current.Kind == CertificateKind.Server ? CertsDefaults.ServerDays : CertsDefaults.ClientDays);
            using var ca = folder.LoadAuthority();
            var now = context.Time.GetUtcNow();
            await IssueCommand.CheckIssuerAsync(folder.Index, ca, now, context);
            var san = old.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
            var spec = new CertificateSpec(current.Kind, name, now - CertsDefaults.Backdate, now.AddDays(days))
            {
                Key = KeyAlgorithms.TryGetAlgorithm(old, out var algorithm) ? algorithm.Value : KeyAlgorithm.EcdsaP256,
                Organization = Organization(old),
                DnsNames = san?.EnumerateDnsNames().ToList() ?? [],
                IpAddresses = san?.EnumerateIPAddresses().ToList() ?? new List<IPAddress>(),
                Uris = CertificateInfo.Uris(old).Select(u => new Uri(u)).ToList(),
                CrlDistributionPoints = CertificateInfo.CrlDistributionPoints(old).Select(u => new Uri(u)).ToList(),
            };
            var issued = folder.IssueLeaf(ca, spec, current, overwriteFiles: options.Force, revokeReplaced: options.RevokeOld, now);
            using (issued.Certificate)
            {
                await context.Out.WriteLineAsync($"renewed {Output.Kind(current.Kind)} '{name}': new serial {issued.Entry.Serial} with a new key ({KeyAlgorithms.Describe(issued.Certificate)})");
                await Output.LeafAsync(context.Out, folder.Layout, issued, ca.Intermediate is not null);
                await IssueCommand.WarnIfClampedAsync(context, spec, issued);
                var replaced = issued.Replaced!;
                if (options.RevokeOld)
                {
                    await context.Out.WriteLineAsync($"the old certificate (serial {replaced.Serial}) is revoked (superseded); run `certs crl` and reload the servers once the new files are deployed");
                }
                else
                {
                    await context.Out.WriteLineAsync($"the old certificate (serial {replaced.Serial}, now {folder.Layout.Combine(replaced.Certificate)}) stays valid until {CliValues.Date(replaced.NotAfter)}: " +
                        $"deploy the new files, reload (SIGHUP), then optionally `certs revoke {replaced.Serial} --reason superseded` and `certs crl`");
                }
            }
        }

        return ExitCodes.Ok;
    }

    private static string? Organization(X509Certificate2 certificate) =>
        certificate.SubjectName.EnumerateRelativeDistinguishedNames()
            .FirstOrDefault(n => n.GetSingleElementType().Value == "2.5.4.10")?.GetSingleElementValue();
}
