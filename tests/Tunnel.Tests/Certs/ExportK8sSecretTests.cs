using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Tunnel.Tests.Certs;

[SupportedOSPlatform("linux")]
public sealed class ExportK8sSecretTests : IDisposable
{
    private const int Timeout = 60_000;
    private readonly CertsSandbox _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task Writes_a_0600_tls_secret_with_the_chain_the_key_and_the_root_as_cert_manager_does()
    {
        await _pki.OkAsync("init-ca", "--intermediate");
        await _pki.OkAsync("issue", "client", "Site_A");

        var result = await _pki.OkAsync("export-k8s-secret", "Site_A", "--namespace", "tunnel");

        var path = _pki.PathOf("private/Site_A-secret.yaml");
        Assert.Contains(path, result.Out);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var (fields, data) = Parse(await File.ReadAllTextAsync(path));
        Assert.Equal("Secret", fields["kind"]);
        Assert.Equal("kubernetes.io/tls", fields["type"]);
        Assert.Equal("site-a", fields["name"]);
        Assert.Equal("tunnel", fields["namespace"]);
        Assert.Equal(["ca.crt", "tls.crt", "tls.key"], data.Keys.Order());

        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(data["tls.crt"]);
        using var intermediate = _pki.Load("intermediate.pem");
        using var root = _pki.Load("ca.pem");
        Assert.Equal(["CN=Site_A", intermediate.Subject], chain.Select(c => c.Subject));
        using var withKey = X509Certificate2.CreateFromPem(data["tls.crt"], data["tls.key"]);
        Assert.True(withKey.HasPrivateKey);
        using var ca = X509Certificate2.CreateFromPem(data["ca.crt"]);
        Assert.Equal(root.Thumbprint, ca.Thumbprint);
    }

    [Fact(Timeout = Timeout)]
    public async Task Writes_to_stdout_with_a_chosen_name_and_never_over_a_file_without_force()
    {
        await _pki.OkAsync("init-ca");
        await _pki.OkAsync("issue", "server", "tunnel.example.com");
        var output = Path.Combine(_pki.Folder, "secret.yaml");

        var stdout = await _pki.OkAsync("export-k8s-secret", "tunnel.example.com", "--secret-name", "tunnel-server-tls", "--out", "-");
        await _pki.OkAsync("export-k8s-secret", "tunnel.example.com", "--out", output);
        var again = await _pki.RunAsync("export-k8s-secret", "tunnel.example.com", "--out", output);
        var badName = await _pki.RunAsync("export-k8s-secret", "tunnel.example.com", "--secret-name", "Not_Valid", "--out", "-");

        Assert.Equal("tunnel-server-tls", Parse(stdout.Out).Fields["name"]);
        Assert.False(Parse(stdout.Out).Fields.ContainsKey("namespace"));
        Assert.Equal("tunnel.example.com", Parse(await File.ReadAllTextAsync(output)).Fields["name"]);
        Assert.Equal(3, again.ExitCode);
        Assert.Contains("--force", again.Error);
        Assert.Equal(2, badName.ExitCode);
        Assert.Contains("Not_Valid", badName.Error);
    }

    /// <summary>The manifest's scalar fields and its data, decoded (the manifest is flat YAML, one key a line).</summary>
    private static (Dictionary<string, string> Fields, Dictionary<string, string> Data) Parse(string yaml)
    {
        var fields = new Dictionary<string, string>();
        var data = new Dictionary<string, string>();
        var inData = false;
        foreach (var line in yaml.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var (key, value) = (line.Split(':', 2)[0], line.Split(':', 2)[1].Trim());
            if (!line.StartsWith(' '))
            {
                inData = key == "data";
            }

            if (inData && line.StartsWith(' '))
            {
                data[key.Trim()] = Encoding.UTF8.GetString(Convert.FromBase64String(value));
            }
            else if (value.Length > 0)
            {
                fields[key.Trim()] = value;
            }
        }

        return (fields, data);
    }
}
