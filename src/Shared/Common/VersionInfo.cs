using System.Reflection;
using System.Runtime.InteropServices;

namespace Tunnel.Common;

/// <summary>Version details an operator pastes into a bug report.</summary>
internal static partial class VersionInfo
{
    public static string Version =>
        typeof(VersionInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "0.0.0";

    public static string Describe(string program) =>
        $"{program} {Version}{Environment.NewLine}" +
        $".NET {Environment.Version} on {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture}){Environment.NewLine}" +
        $"TLS library: {OpenSslVersion()}";

    /// <summary>The OpenSSL that SslStream uses on Linux (loaded at run time, so it is the host's).</summary>
    public static string OpenSslVersion()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "platform TLS";
        }

        try
        {
            return Marshal.PtrToStringAnsi(OpenSSLVersion(0)) ?? "unknown";
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return "OpenSSL (version unknown)";
        }
    }

    [DllImport("libcrypto.so.3", EntryPoint = "OpenSSL_version")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr OpenSSLVersion(int type);
}
