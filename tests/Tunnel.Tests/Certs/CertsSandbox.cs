using System.Security.Cryptography.X509Certificates;
using Tunnel.Certs.Cli;

namespace Tunnel.Tests.Certs;

/// <summary>A temporary folder and an in-process <c>certs</c> command line bound to it: the state folder is
/// <see cref="Dir"/>, passed the way operators pass it in containers (TUNNEL_PKI_DIR).</summary>
internal sealed class CertsSandbox : IDisposable
{
    public CertsSandbox()
    {
        Folder = Directory.CreateTempSubdirectory("tunnel-certs-").FullName;
        Dir = Path.Combine(Folder, "pki");
        Environment["TUNNEL_PKI_DIR"] = Dir;
    }

    public string Folder { get; }

    public string Dir { get; }

    public ManualTime Time { get; } = new(DateTimeOffset.UtcNow);

    public Dictionary<string, string> Environment { get; } = [];

    public async Task<CliResult> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new CertsContext(output, error, Time, name => Environment.GetValueOrDefault(name));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var exit = await CertsProgram.RunAsync("tunnel-server certs", args, context, timeout.Token);
        return new CliResult(exit, output.ToString(), error.ToString());
    }

    /// <summary>Runs and asserts success, for the steps a test builds on.</summary>
    public async Task<CliResult> OkAsync(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.True(result.ExitCode == 0, $"certs {string.Join(' ', args)} failed:\n{result}");
        return result;
    }

    public string PathOf(string relative) => Path.Combine(Dir, relative);

    public X509Certificate2 Load(string relative) => X509CertificateLoader.LoadCertificateFromFile(PathOf(relative));

    public X509Certificate2Collection LoadAll(string relative)
    {
        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(PathOf(relative));
        return all;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
