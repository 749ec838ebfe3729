using Tunnel.Common;
using Tunnel.Fuzz;
using Tunnel.Net;
using Tunnel.Tests.Architecture;
using Tunnel.Tests.Support;
using Tunnel.Tls;

namespace Tunnel.Tests.Fuzz;

/// <summary>Every committed corpus entry (fuzz/corpus/TARGET) and every recorded finding (fuzz/regressions/TARGET) goes
/// through its fuzz target: a finding fixed once stays fixed. The findings also have their own named tests here.</summary>
public sealed class FuzzCorpusTests
{
    private static readonly string Root = NamespaceGraph.FindRepositoryRoot();

    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Keys];

    [Theory(Timeout = 120_000)]
    [MemberData(nameof(Targets))]
    public async Task Every_corpus_entry_and_recorded_finding_passes_its_target(string target)
    {
        var files = new[] { "corpus", "regressions" }
            .Select(kind => Path.Combine(Root, "fuzz", kind, target))
            .Where(Directory.Exists)
            .SelectMany(Directory.EnumerateFiles)
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var input = await File.ReadAllBytesAsync(file);
            var failure = await Task.Run(() => Record.Exception(() => FuzzTargets.All[target](input)));
            Assert.True(failure is null, $"{Path.GetRelativePath(Root, file)}: {failure}");
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task A_host_with_a_space_or_a_bracket_is_refused_instead_of_changing_when_written_back()
    {
        await Task.Yield();
        foreach (var text in new[] { "[ ]:1", "[[]:1", "[a b]:443", "a]:443", "[\t]:80" })
        {
            Assert.False(HostPort.TryParse(text, out _, out var error), text);
            Assert.Contains("space, control character or bracket", error);
        }

        Assert.Equal(new HostPort("::1", 443), HostPort.Parse("[::1]:443"));
        Assert.Equal(new HostPort("", 443), HostPort.Parse(":443"));
    }

    [Fact(Timeout = 10_000)]
    public async Task A_duration_too_small_for_a_tick_is_refused_instead_of_becoming_zero()
    {
        await Task.Yield();
        foreach (var text in new[] { "000000000000000000000000000000000000.000000000000000000000077", "0.00000000001", "0.000001ms" })
        {
            Assert.False(Durations.TryParse(text, allowDisabled: true, out _), text);
        }

        Assert.Equal(TimeSpan.FromMilliseconds(0.5), Durations.Parse("0.5ms"));
        Assert.Equal(TimeSpan.FromTicks(1), Durations.Parse("0.0001ms"));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_key_on_a_curve_OpenSSL_does_not_know_is_a_load_error_not_a_crash()
    {
        // The fuzzer's input: a PKCS#8 EC key whose curve OID was mutated (1.2.840.1268739.1.7).
        var finding = await File.ReadAllBytesAsync(Path.Combine(Root, "fuzz", "regressions", "identity", "key-with-unknown-curve.bin"));
        using var pki = new TestPki();
        var (cert, _) = pki.IssueServer();
        var folder = Directory.CreateTempSubdirectory("tunnel-curve-").FullName;
        try
        {
            var key = Path.Combine(folder, "key.pem");
            await File.WriteAllBytesAsync(key, finding.AsSpan(1).ToArray());
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);

            var error = Assert.Throws<CertificateLoadException>(() => IdentityLoader.Load(new IdentityOptions(cert, key, null, null, null), TimeProvider.System));
            Assert.Contains($"cannot use the private key in '{key}'", error.Message);
            Assert.IsType<PlatformNotSupportedException>(error.InnerException);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
