using System.Security.Cryptography.X509Certificates;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support;

/// <summary>mitmdump as a TLS-intercepting middlebox in front of one TLS server: reverse mode on a free loopback port,
/// terminating the client's TLS with a certificate it forges on the fly from its own CA, and opening its own TLS to
/// the real server. Reverse mode needs no packet redirection and no SO_ORIGINAL_DST (transparent mode needs both),
/// which makes it the least fragile way to put mitmproxy 8.x on the path. The CA is generated in a fresh confdir in
/// the sandbox, so nothing leaks into ~/.mitmproxy.</summary>
internal sealed class MitmproxyProcess : IMiddlebox
{
    private MitmproxyProcess(int port, string confDir, ExternalProcess process)
    {
        Port = port;
        ConfDir = confDir;
        Process = process;
    }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    public string ConfDir { get; }

    public ExternalProcess Process { get; }

    /// <summary>mitmproxy's CA certificate, which issues every certificate it presents.</summary>
    public X509Certificate2 LoadCa() => X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(ConfDir, "mitmproxy-ca-cert.pem")));

    /// <summary>Starts mitmdump in front of <paramref name="server"/> (host:port) and waits until it listens.</summary>
    public static async Task<MitmproxyProcess> StartAsync(Sandbox sandbox, string server, ITestOutputHelper output, CancellationToken deadline)
    {
        var mitmdump = RequiredTool.Mitmdump;
        var confDir = sandbox.Folder("mitmproxy");
        var port = FreePort.Next();
        string[] arguments =
        [
            "--mode", $"reverse:https://{server}",
            "--listen-host", "127.0.0.1",
            "--listen-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--set", $"confdir={confDir}",
            // Do not verify the real server: an intercepting firewall trusts whatever it finds.
            "--ssl-insecure",
            // Eager (mitmproxy's default, stated so a changed default shows here): connect to the server before
            // answering the client, and copy the real certificate's subject into the forged one, the most convincing
            // forgery a firewall can make.
            "--set", "connection_strategy=eager",
        ];
        var process = ExternalProcess.Start("mitmdump", mitmdump, arguments, output, workingDirectory: confDir);
        var mitmproxy = new MitmproxyProcess(port, confDir, process);
        try
        {
            await process.WaitForLineAsync(l => l.Contains($"listening at 127.0.0.1:{port}", StringComparison.Ordinal),
                $"mitmdump to listen on 127.0.0.1:{port}", deadline);
            return mitmproxy;
        }
        catch
        {
            await mitmproxy.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
