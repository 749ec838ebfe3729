using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Xunit.Abstractions;

namespace Tunnel.EndToEnd.Support;

/// <summary>Where a test runs a daemon and opens its probe sockets: the test's own network namespace
/// (<see cref="Own"/>, every existing test), or one the test made with <c>ip netns add</c>. A daemon in a made
/// namespace starts as <c>ip netns exec NAME program ...</c>; ip execs the program rather than forking it, so the PID
/// the test holds is the program's own and killing it by PID (with its children) works as anywhere else.</summary>
internal sealed class NetworkNamespace
{
    private const int CloneNewNet = 0x40000000;

    private NetworkNamespace(string? name)
    {
        Name = name;
    }

    /// <summary>The namespace the test itself runs in.</summary>
    public static NetworkNamespace Own { get; } = new(null);

    /// <summary>The name under /run/netns, or null for <see cref="Own"/>.</summary>
    public string? Name { get; }

    /// <summary>A namespace made by <c>ip netns add <paramref name="name"/></c>; creating and deleting it is the
    /// caller's business.</summary>
    public static NetworkNamespace Named(string name) => new(name);

    /// <summary><see cref="ExternalProcess.Start"/>, inside this namespace.</summary>
    public ExternalProcess Start(string name, string fileName, IEnumerable<string> arguments, ITestOutputHelper output,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null, Func<string, string>? format = null) =>
        Name is null
            ? ExternalProcess.Start(name, fileName, arguments, output, environment, workingDirectory, format)
            : ExternalProcess.Start(name, RequiredTool.Ip, ["netns", "exec", Name, fileName, .. arguments], output, environment, workingDirectory,
                format);

    /// <summary>The command line that runs <paramref name="fileName"/> in this namespace (for short-lived tools).</summary>
    public (string FileName, IReadOnlyList<string> Arguments) Wrap(string fileName, IEnumerable<string> arguments) =>
        Name is null ? (fileName, arguments.ToList()) : (RequiredTool.Ip, ["netns", "exec", Name, fileName, .. arguments]);

    /// <summary>Writes a /proc/sys value of this namespace (/proc/sys/net is per network namespace, so a shell inside
    /// it writes that namespace's value).</summary>
    public Task<string> SetSysctlAsync(string key, string value, ITestOutputHelper output, CancellationToken deadline)
    {
        var (file, wrapped) = Wrap("/bin/sh", ["-c", $"echo {value} > /proc/sys/{key}"]);
        return ShortCommand.RunAsync(file, wrapped, output, deadline, echo: false);
    }

    /// <summary>Deletes the named namespaces, newest first (with them go their veths and nftables rules); a failure is
    /// reported and the rest are still deleted.</summary>
    public static async Task DeleteAllAsync(IReadOnlyList<string> names, ITestOutputHelper output)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        for (var i = names.Count - 1; i >= 0; i--)
        {
            try
            {
                await ShortCommand.RunAsync(RequiredTool.Ip, ["netns", "delete", names[i]], output, deadline.Token);
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                try
                {
                    output.WriteLine($"could not delete network namespace {names[i]}: {ex.Message}");
                }
                catch (InvalidOperationException)
                {
                    // The test already finished.
                }
            }
        }
    }

    /// <summary>A TCP socket that lives in this namespace: it connects (and is seen) from here, whichever thread later
    /// uses it.</summary>
    public Socket NewTcpSocket()
    {
        if (Name is null)
        {
            return new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        }

        // A socket belongs to the network namespace of the thread that creates it. A fresh thread enters the
        // namespace, makes the socket with one system call and ends: no pooled thread ever changes namespace, and
        // nothing else runs there (a thread started from there, say by the runtime, would inherit the namespace).
        using var handle = File.OpenHandle($"/run/netns/{Name}", FileMode.Open, FileAccess.Read);
        var nsFd = (int)handle.DangerousGetHandle();
        var fd = -1;
        var errno = 0;
        string? failure = null;
        var thread = new Thread(() =>
        {
            if (SetNs(nsFd, CloneNewNet) != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                failure = "setns";
                return;
            }

            fd = NativeSocket((int)AddressFamily.InterNetwork, SockStream | SockCloexec, 0);
            if (fd < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                failure = "socket";
            }
        })
        {
            IsBackground = true,
            Name = $"netns {Name}",
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw new InvalidOperationException($"{failure} in network namespace {Name} failed: {new Win32Exception(errno).Message}");
        }

        return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
    }

    /// <summary>Whether something accepts TCP connections at <paramref name="endpoint"/>, seen from this namespace.</summary>
    public async Task<bool> AcceptsAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        using var socket = NewTcpSocket();
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public override string ToString() => Name ?? "(the test's own network namespace)";

    private const int SockStream = 1;
    private const int SockCloexec = 0x80000;

    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetNs(int fd, int nstype);

    [DllImport("libc", EntryPoint = "socket", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int NativeSocket(int domain, int type, int protocol);
}
