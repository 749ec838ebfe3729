using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tests.Support;

/// <summary>An <c>openssl ca</c> set up over a <see cref="TestPki"/>'s root (its key, an index.txt, a crlnumber file
/// and a config written at test time), to make CRLs the way an operator's OpenSSL CA does: revocations with reasons,
/// chosen CRL numbers, and CRL extensions from config sections (delta indicator, issuing distribution point, custom
/// critical ones).</summary>
internal sealed class OpenSslCa
{
    private readonly TestPki _pki;
    private readonly string _rootKey;
    private readonly Dictionary<string, string> _index = [];
    private readonly List<string> _sections = [];

    public OpenSslCa(TestPki pki)
    {
        _pki = pki;
        Folder = Path.Combine(pki.Folder, "openssl-ca-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Folder);
        _rootKey = Path.Combine(Folder, "root.key");
        File.WriteAllText(_rootKey, pki.Root.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        NextCrlNumber = 1;
    }

    public string Folder { get; }

    /// <summary>The number the next generated CRL gets (openssl's crlnumber file).</summary>
    public int NextCrlNumber
    {
        get => Convert.ToInt32(File.ReadAllText(Path.Combine(Folder, "crlnumber")).Trim(), 16);
        set => File.WriteAllText(Path.Combine(Folder, "crlnumber"), $"{value:X2}\n");
    }

    /// <summary>Adds a config section, e.g. <c>AddSection("delta", "2.5.29.27 = critical, ASN1:INTEGER:1")</c>.</summary>
    public void AddSection(string name, string body) => _sections.Add($"[ {name} ]\n{body}\n");

    /// <summary>Marks a certificate revoked in the index with an openssl reason name (keyCompromise,
    /// certificateHold, removeFromCRL...).</summary>
    public void Revoke(string certificatePath, string reason = "keyCompromise")
    {
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath));
        _index[certificate.SerialNumber] =
            $"R\t{certificate.NotAfter.ToUniversalTime():yyMMddHHmmss}Z\t{DateTime.UtcNow.AddMinutes(-5):yyMMddHHmmss}Z,{reason}\t{certificate.SerialNumber}\tunknown\t/CN=x";
    }

    /// <summary>Takes a certificate out of the index (it is no longer listed).</summary>
    public void Forget(string certificatePath)
    {
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath));
        _index.Remove(certificate.SerialNumber);
    }

    /// <summary>Runs <c>openssl ca -gencrl</c> and returns the PEM CRL it wrote.</summary>
    public async Task<string> GenerateCrlAsync(string? extensionsSection = null, string extraArguments = "")
    {
        File.WriteAllText(Path.Combine(Folder, "index.txt"), string.Concat(_index.Values.Select(l => l + "\n")));
        var config = Path.Combine(Folder, "ca.cnf");
        File.WriteAllText(config, $"""
            [ ca ]
            default_ca = local
            [ local ]
            database = {Folder}/index.txt
            crlnumber = {Folder}/crlnumber
            default_md = sha256
            default_crl_days = 7

            """ + string.Join("\n", _sections));
        var output = Path.Combine(Folder, $"crl-{Guid.NewGuid():N}.pem");
        var extensions = extensionsSection is null ? "" : $" -crlexts {extensionsSection}";
        await RunAsync("openssl", $"ca -batch -config {config} -gencrl -keyfile {_rootKey} -cert {_pki.CaPath}{extensions} {extraArguments} -out {output}");
        return File.ReadAllText(output);
    }

    /// <summary>Runs a program to completion (20 s at most) and returns its exit code and combined output.</summary>
    public static async Task<(int ExitCode, string Output)> TryRunAsync(string file, string arguments, string? input = null)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
        })!;
        await process.StandardInput.WriteAsync(input ?? "");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        return (process.ExitCode, await stdout + await stderr);
    }

    public static async Task<string> RunAsync(string file, string arguments)
    {
        var (code, output) = await TryRunAsync(file, arguments);
        Assert.True(code == 0, $"{file} {arguments} failed ({code}): {output}");
        return output;
    }
}
