namespace Tunnel.EndToEnd.Support;

/// <summary>Finds the system tools the end-to-end tests drive. A missing tool fails the test with the Debian package
/// to install (the repository's test script installs them); it never skips, so a green run means the scenario ran.</summary>
internal static class RequiredTool
{
    // Daemons live in sbin, which is not on every user's PATH.
    private static readonly string[] ExtraFolders = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

    public static string Squid => Command("squid", "squid");

    public static string SquidBasicAuthHelper => File("/usr/lib/squid/basic_ncsa_auth", "squid");

    public static string Nginx => Command("nginx", "nginx-light");

    public static string Curl => Command("curl", "curl");

    public static string OpenSsl => Command("openssl", "openssl");

    public static string Stunnel => Command("stunnel4", "stunnel4");

    public static string Ip => Command("ip", "iproute2");

    public static string Nft => Command("nft", "nftables");

    public static string Tcpdump => Command("tcpdump", "tcpdump");

    public static string Tshark => Command("tshark", "tshark");

    public static string Mitmdump => Command("mitmdump", "mitmproxy");

    public static string Haproxy => Command("haproxy", "haproxy");

    public static string Prlimit => Command("prlimit", "util-linux");

    public static string Nohup => Command("nohup", "coreutils");

    public static string Testssl => Command("testssl", "testssl.sh");

    /// <summary>Fails at once if a tool the Squid chain needs is missing, before anything is started.</summary>
    public static void CheckChainTools()
    {
        _ = Squid;
        _ = Nginx;
        _ = Curl;
    }

    /// <summary>Fails at once if a tool the firewall tests need (namespaces, nftables, capture, dissection) is missing,
    /// naming every missing package, before anything is created.</summary>
    public static void CheckFirewallTools()
    {
        var missing = new[] { ("ip", "iproute2"), ("nft", "nftables"), ("tcpdump", "tcpdump"), ("tshark", "tshark") }
            .Where(tool => Find(tool.Item1) is null)
            .Select(tool => tool.Item2)
            .ToList();
        if (missing.Count > 0)
        {
            Assert.Fail(Missing($"{string.Join(", ", missing.Select(p => $"'{p}'"))} not installed", string.Join(' ', missing)));
        }

        CheckChainTools();
    }

    /// <summary>The full path of <paramref name="command"/>, or a failed test naming <paramref name="debianPackage"/>.</summary>
    public static string Command(string command, string debianPackage)
    {
        if (Find(command) is { } found)
        {
            return found;
        }

        Assert.Fail(Missing($"'{command}' is not on PATH (nor in {string.Join(", ", ExtraFolders)})", debianPackage));
        return "";
    }

    private static string? Find(string command)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(ExtraFolders)
            .Select(folder => Path.Combine(folder, command))
            .FirstOrDefault(System.IO.File.Exists);
    }

    public static string File(string path, string debianPackage)
    {
        if (!System.IO.File.Exists(path))
        {
            Assert.Fail(Missing($"'{path}' does not exist", debianPackage));
        }

        return path;
    }

    /// <summary>A system account a daemon drops privileges to (Squid's cache_effective_user).</summary>
    public static string User(string name, string debianPackage)
    {
        var found = System.IO.File.ReadLines("/etc/passwd").Any(line => line.StartsWith(name + ":", StringComparison.Ordinal));
        if (!found)
        {
            Assert.Fail(Missing($"the user '{name}' does not exist", debianPackage));
        }

        return name;
    }

    private static string Missing(string what, string debianPackage) =>
        $"{what}: install the Debian package '{debianPackage}' " +
        $"(apt-get install -y --no-install-recommends {debianPackage}); the end-to-end tests need it and do not skip without it";
}
