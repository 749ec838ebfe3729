using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tunnel.EndToEnd.Support;

/// <summary>The tunnel-server and tunnel-client the tests run: the shipped form, as scripts/publish.sh makes it (Native
/// AOT), made once per test run (test classes run in parallel; a lock makes the first one publish and the others wait).
/// If TUNNEL_PUBLISHED_DIR names a folder that already holds both binaries, they are used as they are (the
/// repository's test script publishes first; a folder of another form, e.g. <c>scripts/publish.sh --jit</c>, runs the
/// suite on that form); if it names an empty or missing folder, the publish goes there. A relative path is taken from
/// the repository root.</summary>
internal sealed class PublishedBinaries
{
    public const string DirectoryVariable = "TUNNEL_PUBLISHED_DIR";

    // Native AOT compiles and links both daemons: about 3 minutes on 2 idle cores, more under load.
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(12);
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static PublishedBinaries? _published;

    private PublishedBinaries(string folder)
    {
        Folder = folder;
    }

    public string Folder { get; }

    public string Server => Path.Combine(Folder, "tunnel-server");

    public string Client => Path.Combine(Folder, "tunnel-client");

    /// <summary>The path of "tunnel-server" or "tunnel-client".</summary>
    public string Of(string program) => Path.Combine(Folder, program);

    /// <summary>The environment the framework-dependent binaries need to find the .NET runtime this test runs on.</summary>
    public static IReadOnlyDictionary<string, string> RuntimeVariables { get; } = FindRuntime();

    public static async Task<PublishedBinaries> GetAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return _published ??= await PublishAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<PublishedBinaries> PublishAsync()
    {
        var configured = Environment.GetEnvironmentVariable(DirectoryVariable);
        var folder = string.IsNullOrEmpty(configured)
            ? Path.Combine(RepositoryRoot.Path, "artifacts", "e2e", "publish")
            : Path.GetFullPath(configured, RepositoryRoot.Path);
        if (!string.IsNullOrEmpty(configured) && HasBinaries(folder))
        {
            return new PublishedBinaries(folder);
        }

        await RunPublishScriptAsync(folder);
        if (!HasBinaries(folder))
        {
            throw new InvalidOperationException($"scripts/publish.sh succeeded but {folder} lacks tunnel-server or tunnel-client");
        }

        return new PublishedBinaries(folder);
    }

    private static bool HasBinaries(string folder) =>
        File.Exists(Path.Combine(folder, "tunnel-server")) && File.Exists(Path.Combine(folder, "tunnel-client"));

    private static async Task RunPublishScriptAsync(string output)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot.Path,
        };
        // No build servers: every process this run starts must be gone when it ends.
        foreach (var argument in new[] { "scripts/publish.sh", output, "--disable-build-servers" })
        {
            info.ArgumentList.Add(argument);
        }

        // The test host's MSBuild variables point at its own build; the child must resolve its own.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        // scripts/publish.sh runs 'dotnet' from PATH: the muxer running this test comes first.
        if (Path.GetDirectoryName(DotnetHost()) is { Length: > 0 } hostFolder)
        {
            info.Environment["PATH"] = hostFolder + Path.PathSeparator + info.Environment["PATH"];
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(PublishTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"scripts/publish.sh took longer than {PublishTimeout}");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/publish.sh {output} failed with exit code {process.ExitCode}:\n{await stdout}\n{await stderr}");
        }
    }

    /// <summary>The dotnet muxer running this test (DOTNET_HOST_PATH under 'dotnet test'), else the one on PATH.</summary>
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static Dictionary<string, string> FindRuntime()
    {
        var result = new Dictionary<string, string>();
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOTNET_ROOT")))
        {
            // <root>/shared/Microsoft.NETCore.App/<version>/ -> <root>
            var runtime = new DirectoryInfo(RuntimeEnvironment.GetRuntimeDirectory());
            if (runtime.Parent?.Parent?.Parent is { } root && File.Exists(Path.Combine(root.FullName, "dotnet")))
            {
                result["DOTNET_ROOT"] = root.FullName;
            }
        }

        return result;
    }
}
