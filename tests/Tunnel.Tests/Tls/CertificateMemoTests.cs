using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Tls;

namespace Tunnel.Tests.Tls;

/// <summary>The per-snapshot memo of what a peer certificate says of itself: computed once per distinct certificate
/// (compared by its whole encoding), never for a certificate whose chain failed, bounded.</summary>
public sealed class CertificateMemoTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    [Fact(Timeout = 10_000)]
    public async Task Computes_once_per_distinct_certificate_whatever_object_carries_it()
    {
        await Task.Yield();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var a = Make(key, "CN=a", withEku: true);
        using var b = Make(key, "CN=b", withEku: true);
        using var aAgain = X509CertificateLoader.LoadCertificate(a.RawData); // another handshake, the same certificate
        var memo = new CertificateMemo<string>();
        var computed = 0;
        string Subject(X509Certificate2 c) => memo.GetOrAdd(c, 0, (certificate, _) =>
        {
            computed++;
            return certificate.Subject;
        });

        Assert.Equal("CN=a", Subject(a));
        Assert.Equal("CN=a", Subject(aAgain));
        Assert.Equal("CN=b", Subject(b));
        Assert.Equal("CN=a", Subject(a));

        Assert.Equal(2, computed);
        Assert.Equal(2, memo.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task Certificates_that_differ_only_in_an_extension_get_their_own_verdicts()
    {
        await Task.Yield();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var good = Make(key, "CN=twin", withEku: true);
        using var noEku = Make(key, "CN=twin", withEku: false); // same subject, same key
        var memo = new CertificateMemo<PeerVerdict>();

        var first = PeerVerdict.FromChain(good, null, SslPolicyErrors.None, "client", Now, memo);
        var second = PeerVerdict.FromChain(noEku, null, SslPolicyErrors.None, "client", Now, memo);
        var firstAgain = PeerVerdict.FromChain(good, null, SslPolicyErrors.None, "client", Now, memo);

        Assert.True(first.Ok, first.Reason);
        Assert.Equal(PeerProblem.WrongUsage, second.Problem);
        Assert.Contains("has no extended key usage", second.Reason);
        Assert.Same(first, firstAgain);
        Assert.Equal(PeerVerdict.FromChain(noEku, null, SslPolicyErrors.None, "client", Now), second); // as without a memo
    }

    [Fact(Timeout = 10_000)]
    public async Task A_certificate_whose_chain_failed_is_not_remembered()
    {
        await Task.Yield();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var leaf = Make(key, "CN=stranger", withEku: true);
        var memo = new CertificateMemo<PeerVerdict>();

        var verdict = PeerVerdict.FromChain(leaf, null, SslPolicyErrors.RemoteCertificateChainErrors, "client", Now, memo);

        Assert.False(verdict.Ok);
        Assert.Equal(0, memo.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task Starts_again_from_empty_once_full()
    {
        await Task.Yield();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var certificates = Enumerable.Range(0, 5).Select(i => Make(key, $"CN=c{i}", withEku: true)).ToList();
        var memo = new CertificateMemo<int>(capacity: 3);
        var computed = 0;

        foreach (var certificate in certificates)
        {
            memo.GetOrAdd(certificate, 0, (_, _) => ++computed);
            Assert.InRange(memo.Count, 1, 3);
        }

        Assert.Equal(5, computed);
        Assert.Equal(5, memo.GetOrAdd(certificates[4], 0, (_, _) => ++computed)); // the newest survived the reset
        Assert.Equal(5, computed);
        certificates.ForEach(c => c.Dispose());
    }

    private static X509Certificate2 Make(ECDsa key, string subject, bool withEku)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        if (withEku)
        {
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(KeyUsages.ClientAuthValue)], critical: false));
        }

        return request.CreateSelfSigned(Now.AddMinutes(-1), Now.AddDays(1));
    }
}
