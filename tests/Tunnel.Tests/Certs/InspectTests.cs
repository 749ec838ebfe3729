using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Tunnel.Tls;

namespace Tunnel.Tests.Certs;

public sealed class InspectTests : IDisposable
{
    private const int Timeout = 60_000;
    private readonly CertsSandbox _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task Inspect_a_chain_file_shows_each_certificate_with_fingerprint_and_the_pin_to_paste()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "server", "tunnel.local", "--dns", "tunnel.local,localhost", "--ip", "127.0.0.1");
        using var leaf = _pki.Load("issued/tunnel.local.pem");

        var result = await _pki.OkAsync("inspect", _pki.PathOf("issued/tunnel.local.pem"), "--ca", _pki.PathOf("ca-bundle.pem"));

        Assert.Contains("certificate 1 of 2 (leaf)", result.Out);
        Assert.Contains("certificate 2 of 2 (intermediate)", result.Out);
        Assert.Contains("CN=tunnel.local", result.Out);
        Assert.Contains("CN=Tunnel Intermediate CA", result.Out);
        Assert.Contains(leaf.SerialNumber, result.Out);
        Assert.Contains("DNS:tunnel.local, DNS:localhost, IP:127.0.0.1", result.Out);
        Assert.Contains("serverAuth", result.Out);
        Assert.Contains("ECDSA P-256", result.Out);
        Assert.Contains(CertificateInfo.Sha256Fingerprint(leaf), result.Out);
        Assert.Contains(CertificateInfo.SpkiPin(leaf), result.Out);
        Assert.Contains("(as a server certificate): trusted", result.Out);
    }

    [Fact(Timeout = Timeout)]
    public async Task Inspect_json_parses_and_carries_the_verdict()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a", "--uri", "spiffe://example.org/a");
        using var leaf = _pki.Load("issued/site-a.pem");

        var result = await _pki.OkAsync("inspect", _pki.PathOf("issued/site-a.pem"), "--ca", _pki.PathOf("ca-bundle.pem"), "--json");

        using var document = JsonDocument.Parse(result.Out);
        var first = Assert.Single(document.RootElement.GetProperty("certificates").EnumerateArray());
        Assert.Equal("CN=site-a", first.GetProperty("subject").GetString());
        Assert.Equal(leaf.SerialNumber, first.GetProperty("serial").GetString());
        Assert.Equal(CertificateInfo.SpkiPin(leaf), first.GetProperty("spkiPin").GetString());
        Assert.Equal(CertificateInfo.Sha256Fingerprint(leaf), first.GetProperty("sha256Fingerprint").GetString());
        Assert.Equal("clientAuth", Assert.Single(first.GetProperty("extendedKeyUsage").EnumerateArray()).GetString());
        Assert.Equal("URI:spiffe://example.org/a", Assert.Single(first.GetProperty("subjectAlternativeNames").EnumerateArray()).GetString());
        Assert.False(first.GetProperty("isCa").GetBoolean());
        var verdict = document.RootElement.GetProperty("verdict");
        Assert.True(verdict.GetProperty("trusted").GetBoolean());
        Assert.Equal("none", verdict.GetProperty("problem").GetString());
        Assert.Equal("client", verdict.GetProperty("usage").GetString());
    }

    [Fact(Timeout = Timeout)]
    public async Task Verdicts_name_an_unknown_ca_an_expired_certificate_and_a_wrong_usage_and_exit_1()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "client", "site-a", "--days", "10");
        using var other = new CertsSandbox();
        await other.OkAsync("init-ca", "--cn", "Somebody Else");
        var file = _pki.PathOf("issued/site-a.pem");

        var unknown = await _pki.RunAsync("inspect", file, "--ca", other.PathOf("ca-bundle.pem"), "--json");
        var wrongUsage = await _pki.RunAsync("inspect", file, "--ca", _pki.PathOf("ca-bundle.pem"), "--usage", "server", "--json");
        var text = await _pki.RunAsync("inspect", file, "--ca", other.PathOf("ca-bundle.pem"));
        _pki.Time.Now = _pki.Time.Now.AddDays(11);
        var expired = await _pki.RunAsync("inspect", file, "--ca", _pki.PathOf("ca-bundle.pem"), "--json");

        Assert.Equal(("unknownIssuer", 1), Verdict(unknown));
        Assert.Equal(("wrongUsage", 1), Verdict(wrongUsage));
        Assert.Equal(("expired", 1), Verdict(expired));
        Assert.Contains("NOT TRUSTED", text.Out);
        Assert.Contains("does not chain to the configured CA", text.Out);
    }

    [Fact(Timeout = Timeout)]
    public async Task Inspect_reads_der_and_rejects_files_that_hold_no_certificate()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("crl");
        using var root = _pki.Load("ca.pem");
        var der = Path.Combine(_pki.Folder, "ca.der");
        await File.WriteAllBytesAsync(der, root.RawData);
        var junk = Path.Combine(_pki.Folder, "junk.bin");
        await File.WriteAllBytesAsync(junk, [1, 2, 3, 4]);

        var fromDer = await _pki.OkAsync("inspect", der);
        var crl = await _pki.RunAsync("inspect", _pki.PathOf("crl.pem"));
        var notCertificate = await _pki.RunAsync("inspect", junk);
        var neither = await _pki.RunAsync("inspect", "no-such-file");

        Assert.Contains("yes, self-signed root", fromDer.Out);
        Assert.Equal(3, crl.ExitCode);
        Assert.Contains("holds a CRL", crl.Error);
        Assert.Equal(3, notCertificate.ExitCode);
        Assert.Equal(3, neither.ExitCode);
        Assert.Contains("HOST:PORT", neither.Error);
    }

    [Fact(Timeout = Timeout)]
    public async Task Inspect_a_live_server_captures_the_presented_chain_without_trusting_it_and_judges_it_with_ca()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "server", "tunnel.local", "--dns", "tunnel.local,localhost", "--ip", "127.0.0.1");
        using var leaf = X509Certificate2.CreateFromPemFile(_pki.PathOf("issued/tunnel.local.pem"), _pki.PathOf("private/tunnel.local.key"));
        using var intermediate = _pki.Load("intermediate.pem");
        await using var server = new LoopbackTlsServer(leaf, [intermediate]);
        var target = $"127.0.0.1:{server.Port}";

        var plain = await _pki.OkAsync("inspect", target, "--servername", "tunnel.local");
        var judged = await _pki.OkAsync("inspect", target, "--ca", _pki.PathOf("ca-bundle.pem"), "--json");
        var wrongName = await _pki.RunAsync("inspect", target, "--ca", _pki.PathOf("ca-bundle.pem"), "--servername", "other.example", "--json");

        Assert.Contains(CertificateInfo.SpkiPin(leaf), plain.Out);
        Assert.Contains("TLS 1.3", plain.Out);
        Assert.DoesNotContain("verdict", plain.Out);
        using var document = JsonDocument.Parse(judged.Out);
        var certificates = document.RootElement.GetProperty("certificates").EnumerateArray().ToList();
        Assert.Equal([leaf.SerialNumber, intermediate.SerialNumber], certificates.Select(c => c.GetProperty("serial").GetString()));
        Assert.Equal("TLS 1.3", document.RootElement.GetProperty("protocol").GetString());
        Assert.True(document.RootElement.GetProperty("verdict").GetProperty("trusted").GetBoolean());
        Assert.Equal(("nameMismatch", 1), Verdict(wrongName));

        // The SNI sent is --servername, or nothing for an IP literal (RFC 6066 §3). The server learns it a moment
        // after the client finished its TLS 1.3 handshake, hence the wait.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var names = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            names.Add(await server.ServerNames.ReadAsync(deadline.Token));
        }

        Assert.Equal(["", "other.example", "tunnel.local"], names.Order());
    }

    [Fact(Timeout = Timeout)]
    public async Task Inspecting_a_port_nobody_listens_on_fails_with_the_reason()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var result = await _pki.RunAsync("inspect", $"127.0.0.1:{port}", "--timeout", "3s");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot connect", result.Error);
    }

    [Fact(Timeout = Timeout)]
    public async Task Inspecting_a_plain_tcp_port_that_never_answers_gives_up_after_the_timeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var result = await _pki.RunAsync("inspect", $"127.0.0.1:{port}", "--timeout", "300ms");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no certificate", result.Error);
        Assert.Contains("300ms", result.Error);
    }

    private static (string Problem, int Exit) Verdict(CliResult result)
    {
        using var document = JsonDocument.Parse(result.Out);
        return (document.RootElement.GetProperty("verdict").GetProperty("problem").GetString()!, result.ExitCode);
    }
}
