using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Bench;

/// <summary>What one X509Chain.Build costs: SslStream builds the peer's chain after every handshake, resumed ones
/// included, on each side of a Tunnel pair (OpenSSL, and so stunnel, skips verification on resumption). A client
/// certificate and its CA as Tunnel issues them (ECDSA P-256), the daemons' policy (custom root trust, no revocation
/// or download); CPU per build, median of the rounds, as JSON.</summary>
internal static class ChainBuildCost
{
    public static Task<int> RunAsync(BenchArgs options)
    {
        var count = options.Int("count", 2000);
        var rounds = options.Int("rounds", 5);
        options.ThrowIfUnused();
        if (count is < 1 or > 100_000 || rounds is < 1 or > 20)
        {
            throw new ArgumentException("--count 1..100000, --rounds 1..20");
        }

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Bench CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest("CN=site-a", leafKey, HashAlgorithmName.SHA256);
        leafRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var leaf = leafRequest.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), [1, 2, 3, 4]);
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.Add(ca);

        var cpuMicroseconds = new List<double>();
        using var process = Process.GetCurrentProcess();
        for (var round = 0; round < rounds; round++)
        {
            process.Refresh();
            var before = process.TotalProcessorTime;
            for (var i = 0; i < count; i++)
            {
                using var chain = new X509Chain { ChainPolicy = policy.Clone() };
                if (!chain.Build(leaf))
                {
                    throw new InvalidOperationException("the chain did not build: " + string.Join(", ", chain.ChainStatus.Select(s => s.Status)));
                }

                foreach (var element in chain.ChainElements)
                {
                    element.Certificate.Dispose();
                }
            }

            process.Refresh();
            cpuMicroseconds.Add((process.TotalProcessorTime - before).TotalMicroseconds / count);
        }

        cpuMicroseconds.Sort();
        var median = cpuMicroseconds[cpuMicroseconds.Count / 2];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"builds\":{count},\"rounds\":{rounds},\"cpuUsPerBuildMedian\":{median:F1},\"cpuUsPerBuild\":[{string.Join(",", cpuMicroseconds.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))}]}}"));
        return Task.FromResult(0);
    }
}
