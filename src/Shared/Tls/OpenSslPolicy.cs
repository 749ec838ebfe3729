using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Tunnel.Tls;

/// <summary>Two OpenSSL settings SslStream has no option for, for the whole process. Key-exchange groups: only those of
/// at least 128-bit strength (X25519, P-256, X448, P-384, P-521); OpenSSL 3's default list also has the finite-field
/// groups ffdhe2048 (112-bit) to ffdhe8192, which a client (or a prober) can pick and which make the server do a costly
/// modular exponentiation per handshake. Session tickets: none issued by the handshake itself (<c>NumTickets = 0</c>);
/// tunnel-server issues one with <see cref="OpenSslTickets.Settle"/> once it has accepted the client's certificate, so a
/// client it refuses gets none.</summary>
/// <remarks>SslStream has no handle to its SSL_CTX, so this sets them where OpenSSL reads them for every SSL_CTX it
/// creates: the <c>system_default</c> section of its configuration (what <c>Groups =</c> and <c>NumTickets =</c> in an
/// openssl.cnf do). It loads that configuration from memory once per process, after OpenSSL has read its
/// default configuration file and before the first handshake. It does nothing when the operator set
/// <c>OPENSSL_CONF</c> (OpenSSL's own configuration then rules, groups included), off Linux, or where the process
/// has loaded another libssl than OpenSSL 3; <see cref="Status"/> says which.</remarks>
internal static partial class OpenSslPolicy
{
    /// <summary>Colon-separated, OpenSSL's names, most preferred first.</summary>
    public const string Groups = "X25519:P-256:X448:P-384:P-521";

    private const ulong OpensslInitLoadConfig = 0x40;
    private static readonly Lock Gate = new();
    private static string? _status;

    /// <summary>What <see cref="EnsureApplied"/> did, for logs and tests; null before it ran.</summary>
    public static string? Status => Volatile.Read(ref _status);

    /// <summary>Applies <see cref="Groups"/> and no handshake tickets once per process (later calls return the first result).</summary>
    public static string EnsureApplied()
    {
        lock (Gate)
        {
            return _status ??= Apply();
        }
    }

    /// <summary>Logs what was applied (at start-up, once the tunnels have loaded their TLS state).</summary>
    public static void LogStatus(ILogger logger)
    {
        if (Status is { } status)
        {
            LogApplied(logger, status);
        }
    }

    private static string Apply()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "not Linux: the platform's TLS library chooses the groups";
        }

        if (Environment.GetEnvironmentVariable("OPENSSL_CONF") is { Length: > 0 } file)
        {
            return $"OPENSSL_CONF is set ({file}): its configuration chooses the groups and the session tickets";
        }

        try
        {
            // Let OpenSSL read its default configuration file first (once per process, as SslStream would on first
            // use), so that reading it later cannot replace what is set here.
            if (InitSsl(OpensslInitLoadConfig, IntPtr.Zero) != 1)
            {
                return "OpenSSL failed to initialise; its default groups and tickets apply";
            }

            var text = Encoding.ASCII.GetBytes(
                "openssl_conf = tunnel_init\n[tunnel_init]\nssl_conf = tunnel_ssl\n[tunnel_ssl]\nsystem_default = tunnel_tls\n" +
                $"[tunnel_tls]\nGroups = {Groups}\nNumTickets = 0\n");
            // BIO_new_mem_buf reads the memory in place: keep it where it is until the BIO is freed.
            var memory = Marshal.AllocHGlobal(text.Length);
            Marshal.Copy(text, 0, memory, text.Length);
            var conf = NconfNew(IntPtr.Zero);
            var bio = BioNewMemBuf(memory, text.Length);
            try
            {
                LoadBuiltinModules();
                return NconfLoadBio(conf, bio, out var line) == 1 && ConfModulesLoad(conf, IntPtr.Zero, 0) == 1
                    ? $"groups {Groups}, no session tickets before the client is accepted"
                    : $"OpenSSL refused the settings (line {line}); its default groups and tickets apply";
            }
            finally
            {
                _ = BioFree(bio);
                NconfFree(conf);
                Marshal.FreeHGlobal(memory);
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return $"OpenSSL 3 not found ({ex.Message}); the default groups and tickets apply";
        }
    }

    [DllImport("libssl.so.3", EntryPoint = "OPENSSL_init_ssl")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int InitSsl(ulong options, IntPtr settings);

    [DllImport("libcrypto.so.3", EntryPoint = "OPENSSL_load_builtin_modules")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void LoadBuiltinModules();

    [DllImport("libcrypto.so.3", EntryPoint = "NCONF_new")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr NconfNew(IntPtr method);

    [DllImport("libcrypto.so.3", EntryPoint = "NCONF_free")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void NconfFree(IntPtr conf);

    [DllImport("libcrypto.so.3", EntryPoint = "NCONF_load_bio")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int NconfLoadBio(IntPtr conf, IntPtr bio, out nint errorLine);

    [DllImport("libcrypto.so.3", EntryPoint = "CONF_modules_load")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int ConfModulesLoad(IntPtr conf, IntPtr appName, ulong flags);

    [DllImport("libcrypto.so.3", EntryPoint = "BIO_new_mem_buf")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr BioNewMemBuf(IntPtr buffer, int length);

    [DllImport("libcrypto.so.3", EntryPoint = "BIO_free")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int BioFree(IntPtr bio);

    [LoggerMessage(EventId = 202, EventName = "TlsPolicy", Level = LogLevel.Information, Message = "OpenSSL: {Status}")]
    private static partial void LogApplied(ILogger logger, string status);
}
