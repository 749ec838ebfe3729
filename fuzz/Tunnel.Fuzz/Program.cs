using System.Diagnostics;
using SharpFuzz;

namespace Tunnel.Fuzz;

/// <summary>
/// <code>
/// Tunnel.Fuzz list                                  the targets
/// Tunnel.Fuzz libfuzzer TARGET                      under scripts/fuzz.sh's libFuzzer driver (coverage-guided)
/// Tunnel.Fuzz run TARGET FILE|DIR...                replay inputs (a corpus, a crash); exit 1 on a finding
/// Tunnel.Fuzz mutate TARGET SECONDS SEED DIR...     random mutation of a corpus without libFuzzer; exit 1 on a finding
/// </code>
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args is ["list"])
        {
            foreach (var name in FuzzTargets.All.Keys)
            {
                Console.WriteLine(name);
            }

            return 0;
        }

        if (args.Length < 2 || !FuzzTargets.All.TryGetValue(args[1], out var target))
        {
            Console.Error.WriteLine("usage: Tunnel.Fuzz list | libfuzzer TARGET | run TARGET PATH... | mutate TARGET SECONDS SEED DIR...");
            Console.Error.WriteLine("targets: " + string.Join(", ", FuzzTargets.All.Keys));
            return 2;
        }

        switch (args[0])
        {
            case "libfuzzer":
                Fuzzer.LibFuzzer.Run(span => target(span.ToArray()));
                return 0;
            case "run":
                return Replay(target, args[2..]);
            case "mutate" when args.Length >= 5 && int.TryParse(args[2], out var seconds) && int.TryParse(args[3], out var seed):
                return Mutate(args[1], target, TimeSpan.FromSeconds(seconds), seed, args[4..]);
            default:
                Console.Error.WriteLine($"unknown mode '{args[0]}'");
                return 2;
        }
    }

    private static IEnumerable<string> Inputs(IEnumerable<string> paths) =>
        paths.SelectMany<string, string>(p => Directory.Exists(p) ? Directory.EnumerateFiles(p).Order(StringComparer.Ordinal) : [p]);

    private static int Replay(Action<byte[]> target, string[] paths)
    {
        var count = 0;
        foreach (var file in Inputs(paths))
        {
            try
            {
                target(File.ReadAllBytes(file));
                count++;
            }
            catch (Exception ex)
            {
                Console.Error.WriteLine($"FINDING in {file}: {ex}");
                return 1;
            }
        }

        Console.WriteLine($"{count} inputs replayed, no finding");
        return 0;
    }

    /// <summary>The fallback where libFuzzer cannot run: mutates the corpus at random (bit flips, byte changes,
    /// insertions, deletions, splices, interesting values) for a bounded time, and writes a finding to
    /// <c>finding-TARGET-*.bin</c> in the working folder.</summary>
    private static int Mutate(string name, Action<byte[]> target, TimeSpan duration, int seed, string[] corpusPaths)
    {
        var corpus = Inputs(corpusPaths).Select(File.ReadAllBytes).ToList();
        if (corpus.Count == 0)
        {
            corpus.Add([]);
        }

        var mutator = new Mutator(seed);
        var watch = Stopwatch.StartNew();
        long execs = 0;
        while (watch.Elapsed < duration)
        {
            var input = mutator.Mutate(corpus[mutator.Next(corpus.Count)], corpus[mutator.Next(corpus.Count)]);
            try
            {
                target(input);
            }
            catch (Exception ex)
            {
                var file = $"finding-{name}-{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(input))[..16]}.bin";
                File.WriteAllBytes(file, input);
                Console.Error.WriteLine($"FINDING after {execs} execs, input saved as {file}: {ex}");
                return 1;
            }

            execs++;
        }

        Console.WriteLine($"{name}: {execs} execs in {watch.Elapsed.TotalSeconds:0.0} s ({execs / Math.Max(0.001, watch.Elapsed.TotalSeconds):0}/s), seed {seed}, no finding");
        return 0;
    }
}
