namespace Tunnel.EndToEnd.Support;

/// <summary>What one curl run saw: its exit code, the final HTTP status, the status of a CONNECT to the proxy (0 when
/// there was none), the response headers (CONNECT answer included) and the body file.</summary>
internal sealed record CurlResult(int ExitCode, int HttpCode, int HttpConnect, string Headers, string BodyPath, string Stderr)
{
    public string Body => File.Exists(BodyPath) ? File.ReadAllText(BodyPath) : "";

    public override string ToString() =>
        $"curl exit {ExitCode}, http_code {HttpCode}, http_connect {HttpConnect}; stderr: {Stderr.Trim()}\n{Headers.Trim()}";
}
