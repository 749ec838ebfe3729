using System.Globalization;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support;

/// <summary>Runs curl the way a user behind Squid would, with output written to files in the sandbox.</summary>
internal static class Curl
{
    private static readonly TimeSpan MaxTime = TimeSpan.FromSeconds(60);

    public static async Task<CurlResult> RunAsync(Sandbox sandbox, IEnumerable<string> arguments, ITestOutputHelper output, CancellationToken deadline,
        NetworkNamespace? ns = null)
    {
        var curl = RequiredTool.Curl;
        var body = sandbox.NewPath("curl", "body");
        var headers = Path.ChangeExtension(body, "headers");
        string[] common =
        [
            "-sS", "--max-time", ((int)MaxTime.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            "-o", body, "-D", headers, "-w", "%{http_code} %{http_connect}",
        ];
        await using var process = (ns ?? NetworkNamespace.Own).Start("curl", curl, [.. common, .. arguments], output);
        output.WriteLine($"{(ns?.Name is { } name ? $"[{name}] " : "")}$ curl {string.Join(' ', arguments)}");
        var exit = await process.WaitForExitAsync(deadline);
        var codes = process.Stdout.Trim().Split(' ');
        var result = new CurlResult(
            exit,
            codes.Length > 0 && int.TryParse(codes[0], CultureInfo.InvariantCulture, out var http) ? http : -1,
            codes.Length > 1 && int.TryParse(codes[1], CultureInfo.InvariantCulture, out var connect) ? connect : -1,
            File.Exists(headers) ? await File.ReadAllTextAsync(headers, deadline) : "",
            body,
            process.Stderr);
        output.WriteLine($"  -> exit {result.ExitCode}, http_code {result.HttpCode}, http_connect {result.HttpConnect}");
        return result;
    }
}
