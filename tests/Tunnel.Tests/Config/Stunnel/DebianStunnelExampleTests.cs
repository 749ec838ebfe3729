using Tunnel.Config.Stunnel;

namespace Tunnel.Tests.Config.Stunnel;

/// <summary>The example configuration Debian's stunnel4 package ships (GPL, so it is read where the package put it,
/// not copied into this repository): what converts, and every line that does not, by number.</summary>
public sealed class DebianStunnelExampleTests : IDisposable
{
    private const string Sample = "/usr/share/doc/stunnel4/examples/stunnel.conf-sample";

    private readonly string _folder = Directory.CreateTempSubdirectory("tunnel-stunnel-sample-").FullName;

    private static string[] SampleLines()
    {
        Assert.True(File.Exists(Sample), $"{Sample} is missing: apt-get install stunnel4");
        return File.ReadAllLines(Sample);
    }

    private static List<int> NumbersOf(string[] lines, Func<string, bool> match) =>
        lines.Select((text, index) => (text, index)).Where(l => match(l.text)).Select(l => l.index + 1).ToList();

    [Fact(Timeout = 20_000)]
    public async Task As_shipped_only_the_OCSPaia_lines_stop_the_client_services()
    {
        var lines = SampleLines();
        var ocsp = NumbersOf(lines, l => l.StartsWith("OCSPaia", StringComparison.Ordinal));

        var conversion = await Task.Run(() => StunnelConverter.Convert(Sample, StunnelRole.Client));

        Assert.Equal(3, ocsp.Count);
        Assert.Equal(ocsp.Select(n => $"{Sample}:{n}"), conversion.Errors.Select(e => e.Where));
        Assert.All(conversion.Errors, e => Assert.Equal("OCSPaia", e.Option));
        Assert.All(conversion.Errors, e => Assert.Contains("CRL", e.Message, StringComparison.Ordinal));
    }

    [Fact(Timeout = 20_000)]
    public async Task Without_OCSPaia_the_three_client_services_convert_with_the_system_trust_store()
    {
        var lines = SampleLines();
        var path = Path.Combine(_folder, "stunnel.conf");
        // Commented out rather than deleted, so every other line keeps its number.
        File.WriteAllLines(path, lines.Select(l => l.StartsWith("OCSPaia", StringComparison.Ordinal) ? ";" + l : l));
        var caPaths = NumbersOf(lines, l => l.StartsWith("CApath", StringComparison.Ordinal));

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Client));

        Assert.True(conversion.Succeeded, string.Join("\n", conversion.Errors));
        var tunnels = conversion.Document!["tunnels"]!.AsObject();
        Assert.Equal(["gmail-pop3", "gmail-imap", "gmail-smtp"], tunnels.Select(t => t.Key));
        Assert.Equal("127.0.0.1:110", (string?)tunnels["gmail-pop3"]!["listen"]);
        Assert.Equal("pop.gmail.com:995", (string?)tunnels["gmail-pop3"]!["servers"]![0]);
        Assert.Equal("pop.gmail.com", (string?)tunnels["gmail-pop3"]!["serverName"]);
        Assert.Equal("127.0.0.1:25", (string?)tunnels["gmail-smtp"]!["listen"]);
        Assert.Equal("smtp.gmail.com", (string?)tunnels["gmail-smtp"]!["serverName"]);
        Assert.All(tunnels, t => Assert.Null(t.Value!["ca"]));
        Assert.Equal(caPaths.Select(n => $"{path}:{n}"),
            conversion.Warnings.Where(w => w.Option == "CApath").Select(w => w.Where));
        Assert.Contains(conversion.Warnings, w => w.Message.Contains("presents no client certificate", StringComparison.Ordinal));
    }

    [Fact(Timeout = 20_000)]
    public async Task As_shipped_the_sample_has_no_server_service_so_tunnel_server_names_each_client_one()
    {
        SampleLines();

        var conversion = await Task.Run(() => StunnelConverter.Convert(Sample, StunnelRole.Server));

        var wrongSide = conversion.Errors.Where(e => e.Option == "client").ToList();
        Assert.Equal(3, wrongSide.Count);
        Assert.All(wrongSide, e => Assert.Contains("tunnel-client import-stunnel", e.Message, StringComparison.Ordinal));
    }

    [Fact(Timeout = 20_000)]
    public async Task The_commented_server_examples_each_fail_for_a_stated_reason()
    {
        var lines = SampleLines();
        var start = Array.FindIndex(lines, l => l.Contains("Example TLS server mode services", StringComparison.Ordinal));
        Assert.True(start > 0, "the sample no longer has its server examples");
        // Uncomment the server examples (";[pop3s]", ";accept  = 995", ...), not the prose comments ("; Either ...").
        var edited = lines.Select((l, i) => i > start && l.Length > 1 && l[0] == ';' && l[1] != ' ' && l[1] != '*' ? l[1..] : l).ToArray();
        var path = Path.Combine(_folder, "servers.conf");
        File.WriteAllLines(path, edited);
        int Line(string text) => Array.FindIndex(edited, l => l == text) + 1;
        int LineAfter(string section, string prefix)
        {
            var from = Array.FindIndex(edited, l => l == section);
            return Array.FindIndex(edited, from, l => l.StartsWith(prefix, StringComparison.Ordinal)) + 1;
        }

        var conversion = await Task.Run(() => StunnelConverter.Convert(path, StunnelRole.Server));
        var errors = conversion.Errors.Select(e => (e.Where, e.Option)).ToList();

        // No CAfile: stunnel serves anyone, tunnel-server requires client certificates.
        foreach (var section in new[] { "[pop3s]", "[imaps]", "[ssmtp]", "[https]", "[mysql]" })
        {
            Assert.Contains(conversion.Errors, e => e.Where == $"{path}:{Line(section)}" && e.Message.Contains("requires client certificates", StringComparison.Ordinal));
        }

        Assert.Contains(($"{path}:{LineAfter("[shell]", "exec =")}", "exec"), errors);
        Assert.Contains(($"{path}:{LineAfter("[shell]", "execArgs")}", "execArgs"), errors);
        Assert.Contains(($"{path}:{LineAfter("[shell]", "PSKsecrets")}", "PSKsecrets"), errors);
        Assert.Contains(($"{path}:{Line("[shell]")}", "connect"), errors);
        Assert.Contains(($"{path}:{LineAfter("[mysql]", "connect")}", "connect"), errors);
        Assert.Contains(conversion.Warnings, w => w.Where == $"{path}:{LineAfter("[https]", "TIMEOUTclose")}" && w.Option == "TIMEOUTclose");
        Assert.Equal(3, errors.Count(e => e.Option == "client"));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
