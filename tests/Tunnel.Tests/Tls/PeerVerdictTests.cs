using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Certs;
using Tunnel.Tests.Support;
using Tunnel.Tls;

namespace Tunnel.Tests.Tls;

/// <summary>What the verdict says when a chain cannot be completed: a peer that leaves its intermediate CA out of its
/// cert file is told how to fix it (the chain built under the daemons' policy, which fetches nothing), while a chain
/// that reaches a root nobody configured gets no such hint.</summary>
public sealed class PeerVerdictTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private readonly TestPki _pki = new("Verdict Root");

    [Fact(Timeout = 10_000)]
    public async Task A_leaf_sent_without_its_intermediate_is_refused_with_the_missing_issuer_named()
    {
        await Task.Yield();
        using var intermediate = Issue(_pki.Root, CertificateKind.Intermediate, "Verdict Intermediate");
        using var leaf = Issue(intermediate, CertificateKind.Client, "site-b");
        var bundle = TrustBundle.Load(_pki.CaPath);

        var verdict = Judge(leaf, bundle.CreatePolicy(KeyUsages.ClientAuth));

        Assert.Equal(PeerProblem.UnknownIssuer, verdict.Problem);
        Assert.Contains("issued by 'CN=Verdict Intermediate', which does not chain to the configured CA", verdict.Reason);
        Assert.Contains("the chain stops at 'CN=Verdict Intermediate': if that is an intermediate CA of yours, the client must send it", verdict.Reason);

        // Sent along (or in the ca file), the same intermediate completes the chain.
        var withIntermediate = bundle.CreatePolicy(KeyUsages.ClientAuth);
        withIntermediate.ExtraStore.Add(intermediate);
        Assert.True(Judge(leaf, withIntermediate).Ok);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_chain_that_reaches_an_unconfigured_root_gets_no_hint()
    {
        await Task.Yield();
        using var stranger = new TestPki("Stranger Root");
        using var leaf = Issue(stranger.Root, CertificateKind.Client, "intruder");
        var policy = TrustBundle.Load(_pki.CaPath).CreatePolicy(KeyUsages.ClientAuth);
        policy.ExtraStore.Add(stranger.Root); // the peer sent its whole chain, root included

        var verdict = Judge(leaf, policy);

        Assert.Equal(PeerProblem.UnknownIssuer, verdict.Problem);
        Assert.Contains("issued by 'CN=Stranger Root'", verdict.Reason);
        Assert.DoesNotContain("the chain stops at", verdict.Reason);
    }

    public void Dispose() => _pki.Dispose();

    private static PeerVerdict Judge(X509Certificate2 leaf, X509ChainPolicy policy)
    {
        using var chain = new X509Chain { ChainPolicy = policy };
        var built = chain.Build(leaf);
        return PeerVerdict.FromChain(leaf, chain, built ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateChainErrors, "client", Now);
    }

    private static X509Certificate2 Issue(X509Certificate2 issuer, CertificateKind kind, string name) =>
        CertificateFactory.Create(new CertificateSpec(kind, name, Now.AddHours(-1), Now.AddDays(30)), issuer);
}
