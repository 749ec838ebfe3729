namespace Tunnel.Tests.Certs;

public sealed class CertsCliTests : IDisposable
{
    private const int Timeout = 60_000;
    private readonly CertsSandbox _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task Help_lists_every_command_on_stdout_and_exits_0()
    {
        var result = await _pki.RunAsync("--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Empty(result.Error);
        foreach (var command in new[] { "init-ca", "issue", "revoke", "crl", "list", "inspect", "renew", "export-p12" })
        {
            Assert.Contains(command, result.Out);
        }
    }

    [Theory(Timeout = Timeout)]
    [InlineData("init-ca", "ecdsa-p256", "3650", "1826", "./pki", "TUNNEL_PKI_DIR")]
    [InlineData("issue", "ecdsa-p256", "397", "365")]
    [InlineData("crl", "Default: 7")]
    [InlineData("inspect", "Default: 5s")]
    [InlineData("renew", "397", "365")]
    [InlineData("revoke", "keyCompromise", "Default: unspecified")]
    public async Task Each_command_help_states_its_defaults(string command, params string[] expected)
    {
        var result = await _pki.RunAsync(command, "--help");

        Assert.Equal(0, result.ExitCode);
        foreach (var text in expected)
        {
            Assert.Contains(text, result.Out);
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task An_unknown_flag_or_command_is_a_usage_error_on_stderr()
    {
        var flag = await _pki.RunAsync("list", "--frobnicate");
        var command = await _pki.RunAsync("frobnicate");
        var nothing = await _pki.RunAsync();

        Assert.Equal((2, ""), (flag.ExitCode, flag.Out));
        Assert.Contains("frobnicate", flag.Error);
        Assert.Equal(2, command.ExitCode);
        Assert.Equal(2, nothing.ExitCode);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_second_command_on_the_same_folder_waits_for_no_one_and_fails_clearly()
    {
        await _pki.OkAsync("init-ca");
        using var held = new FileStream(_pki.PathOf(".lock"), FileMode.Open, FileAccess.ReadWrite, FileShare.None);

        var result = await _pki.RunAsync("issue", "client", "site-a");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("another certs command", result.Error);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_damaged_index_is_reported_not_overwritten()
    {
        await _pki.OkAsync("init-ca");
        await File.WriteAllTextAsync(_pki.PathOf("index.json"), "{ not json");

        var result = await _pki.RunAsync("issue", "client", "site-a");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("index.json", result.Error);
        Assert.Equal("{ not json", await File.ReadAllTextAsync(_pki.PathOf("index.json")));
    }
}
