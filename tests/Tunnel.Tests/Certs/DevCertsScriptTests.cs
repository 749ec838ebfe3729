namespace Tunnel.Tests.Certs;

/// <summary>certs/make-dev-certs.sh and the <c>certs</c> command in the real binaries (not in-process).</summary>
public sealed class DevCertsScriptTests : IDisposable
{
    private const int Timeout = 180_000;
    private readonly string _folder = Directory.CreateTempSubdirectory("tunnel-devcerts-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task The_script_creates_a_verifiable_dev_pki_once_and_then_leaves_it_alone()
    {
        // A copy, so the script's "certs/dev next to me" lands in the temporary folder, not in the repository.
        var script = Path.Combine(_folder, "certs", "make-dev-certs.sh");
        Directory.CreateDirectory(Path.GetDirectoryName(script)!);
        File.Copy(Path.Combine(RepositoryRoot(), "certs", "make-dev-certs.sh"), script);
        var dev = Path.Combine(_folder, "certs", "dev");

        var first = await ExternalProcess.RunAsync("/bin/bash", [script, Dotnet, Binary("tunnel-server")], TimeSpan.FromSeconds(120));
        Assert.True(first.ExitCode == 0, first.ToString());
        var ca = await File.ReadAllBytesAsync(Path.Combine(dev, "ca.pem"));
        var index = await File.ReadAllBytesAsync(Path.Combine(dev, "index.json"));

        var second = await ExternalProcess.RunAsync("/bin/bash", [script, Binary("tunnel-server")], TimeSpan.FromSeconds(60));

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("already exists", second.Out);
        Assert.Equal(ca, await File.ReadAllBytesAsync(Path.Combine(dev, "ca.pem")));
        Assert.Equal(index, await File.ReadAllBytesAsync(Path.Combine(dev, "index.json")));
        foreach (var file in new[] { "ca-bundle.pem", "crl.pem", "issued/tunnel.local.pem", "private/tunnel.local.key", "issued/dev-client.pem", "private/dev-client.key" })
        {
            Assert.True(File.Exists(Path.Combine(dev, file)), file);
        }

        var server = await ExternalProcess.OpenSslAsync("verify", "-purpose", "sslserver", "-CAfile", Path.Combine(dev, "ca.pem"), Path.Combine(dev, "issued/tunnel.local.pem"));
        var client = await ExternalProcess.OpenSslAsync("verify", "-purpose", "sslclient", "-crl_check", "-CRLfile", Path.Combine(dev, "crl.pem"),
            "-CAfile", Path.Combine(dev, "ca.pem"), Path.Combine(dev, "issued/dev-client.pem"));
        var names = await ExternalProcess.OpenSslAsync("x509", "-in", Path.Combine(dev, "issued/tunnel.local.pem"), "-noout", "-ext", "subjectAltName");
        Assert.True(server.ExitCode == 0, server.ToString());
        Assert.True(client.ExitCode == 0, client.ToString());
        Assert.Contains("DNS:tunnel.local, DNS:localhost, IP Address:127.0.0.1", names.Out);

        // The same folder is usable from the other binary.
        var list = await ExternalProcess.RunAsync(Dotnet, [Binary("tunnel-client"), "certs", "list", "--dir", dev]);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("dev-client", list.Out);
    }

    [Fact(Timeout = Timeout)]
    public async Task Both_binaries_answer_certs_help_and_reject_unknown_certs_commands()
    {
        foreach (var program in new[] { "tunnel-client", "tunnel-server" })
        {
            var help = await ExternalProcess.RunAsync(Dotnet, [Binary(program), "certs", "--help"]);
            var bad = await ExternalProcess.RunAsync(Dotnet, [Binary(program), "certs", "mint"]);
            var daemonHelp = await ExternalProcess.RunAsync(Dotnet, [Binary(program), "--help"]);

            Assert.True(help.ExitCode == 0, help.ToString());
            Assert.Contains($"{program} certs", help.Out);
            Assert.Contains("export-p12", help.Out);
            Assert.Equal(2, bad.ExitCode);
            Assert.Contains("mint", bad.Error);
            Assert.Contains("certs", daemonHelp.Out);
        }
    }

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>The binaries are copied next to the tests by the project references.</summary>
    private static string Binary(string name) => Path.Combine(AppContext.BaseDirectory, name + ".dll");

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Tunnel.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Tunnel.sln not found above " + AppContext.BaseDirectory);
    }
}
