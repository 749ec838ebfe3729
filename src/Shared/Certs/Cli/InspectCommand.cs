using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Tunnel.Common;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Certs.Cli;

/// <summary><c>certs inspect FILE|HOST:PORT</c>: what is in a certificate file, or what a server presents, and with
/// --ca whether the daemons would accept it. Exit 1 when the verdict is negative, so scripts can gate on it.</summary>
internal static class InspectCommand
{
    public static async Task<int> RunAsync(InspectOptions options, CertsContext context, CancellationToken cancellationToken)
    {
        var target = options.Target!;
        var usage = options.Usage?.ToLowerInvariant() switch
        {
            null => null,
            "server" or "client" => options.Usage.ToLowerInvariant(),
            _ => throw CliValues.Usage($"--usage '{options.Usage}' must be 'server' or 'client'"),
        };
        var timeout = CliValues.Duration(options.Timeout, CertsDefaults.InspectTimeout, "--timeout");

        // Read the CA first: a typo in --ca should not cost a connection attempt.
        TrustBundle? bundle = null;
        if (options.Ca is not null)
        {
            try
            {
                bundle = TrustBundle.Load(options.Ca);
            }
            catch (CertificateLoadException ex)
            {
                throw new CertsException(ex.Message);
            }
        }

        X509Certificate2Collection certificates;
        PresentedChain? live = null;
        HostPort? endpoint = null;
        if (File.Exists(target))
        {
            certificates = LoadFile(target);
        }
        else if (HostPort.TryParse(target, out var hostPort, out _) && !hostPort.Value.IsWildcard && hostPort.Value.Port > 0)
        {
            endpoint = hostPort.Value;
            live = await TlsChainProbe.CaptureAsync(hostPort.Value, options.ServerName, timeout, cancellationToken);
            certificates = live.Certificates;
        }
        else
        {
            throw new CertsException($"'{target}' is neither a readable file nor HOST:PORT (e.g. tunnel.example.com:443)");
        }

        try
        {
            var now = context.Time.GetUtcNow();
            var descriptions = certificates.Select(CertificateDescription.Of).ToList();
            VerdictReport? verdict = null;
            if (bundle is not null)
            {
                var role = usage ?? (live is not null ? "server" : InferRole(certificates[0]));
                var expectedName = options.ServerName ?? endpoint?.Host;
                verdict = Judge(certificates, bundle, role, expectedName, now);
            }

            var report = new InspectReport(target, live?.Protocol, live?.CipherSuite, live?.HandshakeError, descriptions, verdict);
            if (options.Json)
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(report, CertsJsonContext.Default.InspectReport));
            }
            else
            {
                await context.Out.WriteAsync(Describe(report, now));
            }

            return verdict is { Trusted: false } ? ExitCodes.Failure : ExitCodes.Ok;
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }

    private static X509Certificate2Collection LoadFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CertsException($"cannot read {path}: {ex.Message}");
        }

        var collection = new X509Certificate2Collection();
        var text = Encoding.ASCII.GetString(bytes);
        if (text.Contains("-----BEGIN ", StringComparison.Ordinal))
        {
            try
            {
                // Blocks with other labels (keys, CRLs) are skipped.
                collection.ImportFromPem(text);
            }
            catch (CryptographicException ex)
            {
                throw new CertsException($"{path} holds a damaged PEM certificate: {ex.Message}");
            }

            if (collection.Count == 0)
            {
                throw new CertsException(text.Contains("X509 CRL", StringComparison.Ordinal)
                    ? $"{path} holds a CRL, not certificates; `openssl crl -in {path} -noout -text` shows it"
                    : $"{path} holds no '-----BEGIN CERTIFICATE-----' block");
            }

            return collection;
        }

        try
        {
            collection.Add(X509CertificateLoader.LoadCertificate(bytes));
            return collection;
        }
        catch (CryptographicException)
        {
            throw new CertsException($"{path} is not a certificate (neither PEM nor DER)");
        }
    }

    /// <summary>A file's certificate is judged for what it claims to be: client if it only allows clientAuth.</summary>
    private static string InferRole(X509Certificate2 certificate)
    {
        var eku = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault()?.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value).ToList();
        return eku is not null && eku.Contains(KeyUsages.ClientAuthValue) && !eku.Contains(KeyUsages.ServerAuthValue) ? "client" : "server";
    }

    /// <summary>The daemons' policy (<see cref="TrustBundle.CreatePolicy"/>, <see cref="PeerVerdict.FromChain"/>),
    /// with the other certificates of the file or handshake as intermediates, plus the name check tunnel-client does.</summary>
    private static VerdictReport Judge(X509Certificate2Collection certificates, TrustBundle bundle, string role, string? expectedName, DateTimeOffset now)
    {
        var leaf = certificates[0];
        var policy = bundle.CreatePolicy(role == "server" ? KeyUsages.ServerAuth : KeyUsages.ClientAuth);
        policy.VerificationTime = now.UtcDateTime;
        foreach (var other in certificates.Skip(1))
        {
            policy.ExtraStore.Add(other);
        }

        using var chain = new X509Chain { ChainPolicy = policy };
        var built = chain.Build(leaf);
        var verdict = PeerVerdict.FromChain(leaf, chain, built ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateChainErrors, role, now);
        foreach (var element in chain.ChainElements)
        {
            element.Certificate.Dispose();
        }

        if (verdict.Ok && role == "server" && expectedName is not null && !leaf.MatchesHostname(expectedName, allowWildcards: true, allowCommonName: false))
        {
            verdict = new PeerVerdict(PeerProblem.NameMismatch,
                $"the server certificate {CertificateInfo.ShortName(leaf)} is for [{string.Join(", ", CertificateInfo.SubjectAlternativeNames(leaf))}], not '{expectedName}'");
        }

        return new VerdictReport(verdict.Ok, verdict.Problem, verdict.Reason, bundle.Source, role);
    }

    private static string Describe(InspectReport report, DateTimeOffset now)
    {
        var text = new StringBuilder();
        text.Append(report.Source);
        if (report.Protocol is not null)
        {
            text.Append($" ({report.Protocol}, {report.CipherSuite})");
        }

        text.Append('\n');
        if (report.HandshakeError is not null)
        {
            text.Append($"note: the handshake failed after the server sent its chain: {report.HandshakeError}\n");
        }

        for (var i = 0; i < report.Certificates.Count; i++)
        {
            var c = report.Certificates[i];
            var role = i == 0 ? "leaf" : c.SelfSigned ? "root" : "intermediate";
            var validity = now < c.NotBefore ? "NOT YET VALID"
                : now > c.NotAfter ? $"EXPIRED {(int)(now - c.NotAfter).TotalDays} days ago"
                : $"{(int)(c.NotAfter - now).TotalDays} days left";
            text.Append($"\ncertificate {i + 1} of {report.Certificates.Count} ({role})\n");
            Line(text, "subject", c.Subject);
            Line(text, "issuer", c.Issuer);
            Line(text, "serial", c.Serial);
            Line(text, "valid", $"{CliValues.Date(c.NotBefore)} to {CliValues.Date(c.NotAfter)} ({validity})");
            Line(text, "key", c.KeyType);
            Line(text, "CA", !c.IsCa ? "no" : c.SelfSigned ? "yes, self-signed root" : c.PathLength is { } length ? $"yes, path length {length}" : "yes");
            Line(text, "SANs", c.SubjectAlternativeNames.Count == 0 ? "(none)" : string.Join(", ", c.SubjectAlternativeNames));
            Line(text, "key usage", c.KeyUsage.Count == 0 ? "(none)" : string.Join(", ", c.KeyUsage));
            Line(text, "ext. key usage", c.ExtendedKeyUsage.Count == 0 ? "(none: any)" : string.Join(", ", c.ExtendedKeyUsage));
            Line(text, "SHA-256", c.Sha256Fingerprint);
            Line(text, "SPKI pin", c.SpkiPin);
        }

        if (report.Verdict is { } verdict)
        {
            text.Append($"\nverdict against {verdict.Ca} (as a {verdict.Usage} certificate): {(verdict.Trusted ? "trusted" : "NOT TRUSTED: " + verdict.Reason)}\n");
        }

        return text.ToString();
    }

    private static void Line(StringBuilder text, string label, string value) => text.Append($"  {label + ":",-16}{value}\n");
}
