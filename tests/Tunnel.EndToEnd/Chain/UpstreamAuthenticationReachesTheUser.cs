using Tunnel.EndToEnd.Support;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Chain;

/// <summary>When the upstream proxy requires Basic authentication, the user authenticates to it end to end: curl's
/// proxy credentials go to the inner Squid, which passes them on (cache_peer ... login=PASSTHRU) through the tunnel.</summary>
[Trait("Category", "EndToEnd")]
public sealed class UpstreamAuthenticationReachesTheUser(ITestOutputHelper output)
{
    private const string User = "alice";
    private const string Password = "e2e-secret";

    [Fact(Timeout = 120_000)]
    public async Task A_407_reaches_curl_without_credentials_and_correct_credentials_pass_for_http_and_connect()
    {
        // Guards against the tunnel dropping or altering Proxy-Authorization or the 407 challenge (Proxy-Authenticate)
        // in either direction, for both absolute-URI requests and CONNECT.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var passwordLine = await PasswordLineAsync(output, deadline.Token);
        await using var chain = await ProxyChain.StartAsync("auth", output, deadline.Token,
            outerPolicy: sandbox => SquidConfig.BasicAuth(sandbox.WriteText("outer-passwd", passwordLine)),
            passCredentials: true);
        await chain.Target.PublishFileAsync("private.bin", 300_000, seed: 51, deadline.Token);
        var credentials = new[] { "--proxy-user", $"{User}:{Password}" };

        var httpAnonymous = await chain.CurlAsync(deadline.Token, chain.Target.HttpUrl("private.bin"));
        Assert.True(httpAnonymous.HttpCode == 407, httpAnonymous.ToString());
        Assert.Contains("Proxy-Authenticate: Basic realm=\"e2e upstream proxy\"", httpAnonymous.Headers);

        var httpWrong = await chain.CurlAsync(deadline.Token, "--proxy-user", $"{User}:wrong", chain.Target.HttpUrl("private.bin"));
        Assert.True(httpWrong.HttpCode == 407, httpWrong.ToString());

        var httpAuthenticated = await chain.CurlAsync(deadline.Token, [.. credentials, chain.Target.HttpUrl("private.bin")]);
        Assert.True(httpAuthenticated.ExitCode == 0 && httpAuthenticated.HttpCode == 200, httpAuthenticated.ToString());

        var connectAnonymous = await chain.CurlAsync(deadline.Token, chain.Target.HttpsUrl("private.bin"));
        Assert.True(connectAnonymous.HttpConnect == 407, connectAnonymous.ToString());
        Assert.Equal(56, connectAnonymous.ExitCode);
        Assert.Contains("Proxy-Authenticate: Basic realm=\"e2e upstream proxy\"", connectAnonymous.Headers);

        var connectAuthenticated = await chain.CurlAsync(deadline.Token, [.. credentials, chain.Target.HttpsUrl("private.bin")]);
        Assert.True(connectAuthenticated.ExitCode == 0 && connectAuthenticated.HttpConnect == 200 && connectAuthenticated.HttpCode == 200,
            connectAuthenticated.ToString());

        // The outer Squid saw the user, so the credentials really crossed the tunnel.
        await chain.Outer.WaitForAccessLogAsync(l => l.Contains($"CONNECT {NginxTarget.HostName}:", StringComparison.Ordinal) && l.Contains($" {User} ", StringComparison.Ordinal),
            $"an authenticated CONNECT by {User}", deadline.Token);
    }

    /// <summary>An htpasswd-style line (APR1-MD5, which basic_ncsa_auth reads), made with openssl so the tests need
    /// no apache2-utils.</summary>
    private static async Task<string> PasswordLineAsync(ITestOutputHelper output, CancellationToken deadline)
    {
        await using var process = ExternalProcess.Start("openssl passwd", RequiredTool.OpenSsl, ["passwd", "-apr1", Password], output);
        var exit = await process.WaitForExitAsync(deadline);
        Assert.True(exit == 0, $"openssl passwd failed: {process.Stderr}");
        return $"{User}:{process.Stdout.Trim()}\n";
    }
}
