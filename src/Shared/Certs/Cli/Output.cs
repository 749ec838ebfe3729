using System.Security.Cryptography.X509Certificates;
using Tunnel.Tls;

namespace Tunnel.Certs.Cli;

/// <summary>Small formatting helpers shared by the commands' human-readable output.</summary>
internal static class Output
{
    public static DateTimeOffset NotAfter(X509Certificate2 certificate) => new(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);

    public static string Kind(CertificateKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>The lines describing a freshly written leaf: its files, names and pin.</summary>
    public static async Task LeafAsync(TextWriter output, PkiLayout layout, IssuedLeaf issued, bool withIntermediate)
    {
        var certificate = issued.Certificate;
        var chain = layout.Combine(issued.Entry.Certificate);
        await output.WriteLineAsync($"  {"certificate:",-13} {chain} (leaf{(withIntermediate ? " + intermediate" : "")}; the 'cert' setting)");
        await output.WriteLineAsync($"  {"private key:",-13} {layout.Combine(issued.Entry.Key!)} ({KeyFilePermissions.Octal(PemFiles.PrivateMode)}; the 'key' setting)");
        var names = CertificateInfo.SubjectAlternativeNames(certificate);
        await output.WriteLineAsync($"  {"SANs:",-13} {(names.Count == 0 ? "(none)" : string.Join(", ", names))}");
        await output.WriteLineAsync($"  {"valid:",-13} {CliValues.Date(issued.Entry.NotBefore)} to {CliValues.Date(issued.Entry.NotAfter)}");
        await output.WriteLineAsync($"  {"SPKI pin:",-13} {CertificateInfo.SpkiPin(certificate)}");
    }
}
