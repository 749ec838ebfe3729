using System.Security.Cryptography.X509Certificates;
using Tunnel.Common;

namespace Tunnel.Certs.Cli;

/// <summary><c>certs crl</c>: (re)writes <c>crl.pem</c> from the index with the next CRL number.</summary>
internal static class CrlCommand
{
    public static async Task<int> RunAsync(CrlOptions options, CertsContext context)
    {
        var days = CliValues.Days(options.Days, CertsDefaults.CrlDays);
        using var folder = PkiFolder.Open(options.Directory(context), write: true);
        using var ca = folder.LoadAuthority();
        var now = context.Time.GetUtcNow();
        var number = folder.Index.CrlNumber + 1;
        var nextUpdate = now.AddDays(days);
        var pem = CrlGenerator.Build(folder.Index, ca, number, now, nextUpdate, out var summary);

        // Derived state, rewritten on every run: replacing it needs no --force, but it is replaced atomically so a
        // server reloading at this moment reads the old CRL or the new one, never half of one.
        PemFiles.Write(folder.Layout.Crl, pem, PemFiles.PublicMode, overwrite: true);
        folder.Save(folder.Index with { CrlNumber = number, CrlThisUpdate = now, CrlNextUpdate = nextUpdate });

        await context.Out.WriteLineAsync($"wrote {folder.Layout.Crl}: CRL number {number}, next update {CliValues.Date(nextUpdate)}");
        foreach (var (issuer, revoked) in summary)
        {
            await context.Out.WriteLineAsync($"  signed by '{issuer.GetNameInfo(X509NameType.SimpleName, false)}': {revoked} revoked certificate{(revoked == 1 ? "" : "s")}");
        }

        await context.Out.WriteLineAsync($"copy it to the servers and reload them (SIGHUP); run `certs crl` again before {CliValues.Date(nextUpdate)}, or servers that check it will refuse clients");
        return ExitCodes.Ok;
    }
}
