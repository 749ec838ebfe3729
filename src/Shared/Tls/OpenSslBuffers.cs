using System.Net.Security;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Tunnel.Tls;

/// <summary>Makes OpenSSL free a TLS connection's record buffers while it has nothing to read or write
/// (<c>SSL_MODE_RELEASE_BUFFERS</c>, which stunnel and nginx set). SslStream leaves OpenSSL's default, under
/// which every connection keeps its read buffer (about 17 KiB) for its whole life; an idle tunneled connection is
/// mostly that.</summary>
/// <remarks>SslStream has no public handle to its OpenSSL connection, so this reads it from SslStream's private
/// field (a <c>SafeSslHandle</c>, the <c>SSL*</c>) and calls OpenSSL's <c>SSL_ctrl</c> itself. It does so only when
/// everything checks out: Linux, the field is there with that type, and the process has loaded OpenSSL 3 and no
/// other libssl (so the call lands in the library that made the handle). Otherwise it does nothing, and connections
/// simply keep their buffers, as before.</remarks>
internal static class OpenSslBuffers
{
    private const int SslCtrlMode = 33;                 // SSL_CTRL_MODE: ORs larg into the mode, returns the mode
    private const int SslCtrlClearMode = 78;            // SSL_CTRL_CLEAR_MODE: clears larg's bits, returns the mode
    private const nint SslModeReleaseBuffers = 0x10;    // SSL_MODE_RELEASE_BUFFERS

    /// <summary>What <see cref="Resolve"/> says while the process has not loaded OpenSSL yet: not an answer to keep.</summary>
    internal const string NotLoadedYet = "OpenSSL is not loaded yet";

    private static Resolution? _resolved;
    private static long _released;

    // The handle's type, once seen: its name is read by reflection, which allocates, and this runs on every connection.
    private static Type? _sslHandleType;

    /// <summary>Connections of this process set to free their buffers while idle, so far (for the metric
    /// <c>tunnel_tls_idle_buffer_release_total</c>: a build or runtime where this silently stops working shows 0).</summary>
    public static long Released => Interlocked.Read(ref _released);

    /// <summary>Sets the mode on <paramref name="tls"/>'s OpenSSL connection. Call once its handshake completed,
    /// before it carries data: SslStream must not be using the connection at the same time.</summary>
    /// <returns>False where this runtime does not allow it (nothing was changed).</returns>
    public static bool ReleaseWhenIdle(SslStream tls)
    {
        if (Control(tls, SslCtrlMode, SslModeReleaseBuffers) is not { } mode || (mode & SslModeReleaseBuffers) == 0)
        {
            return false;
        }

        Interlocked.Increment(ref _released);
        return true;
    }

    /// <summary>Undoes <see cref="ReleaseWhenIdle"/>: the connection keeps its buffers. Same conditions; where they do
    /// not hold, nothing was set to undo.</summary>
    public static void Keep(SslStream tls) => Control(tls, SslCtrlClearMode, SslModeReleaseBuffers);

    /// <summary>OpenSSL's mode bits of <paramref name="tls"/>'s connection, or null where they cannot be read.</summary>
    internal static long? Mode(SslStream tls) => Control(tls, SslCtrlMode, 0);

    /// <summary>Why idle connections keep their buffers in this process, or null when they do not: for the start-up
    /// log (the daemons have loaded OpenSSL with their certificates by then).</summary>
    public static string? Unavailable => Resolved().Unavailable;

    private static long? Control(SslStream tls, int command, nint modes) =>
        // Authenticated: OpenSSL is loaded (which library it is is part of the check) and the connection exists.
        tls.IsAuthenticated
            ? WithSsl(tls, (command, modes), (long?)null, static (ssl, c) => SslCtrl(ssl, c.command, c.modes, IntPtr.Zero))
            : null;

    /// <summary>Runs <paramref name="use"/> on <paramref name="tls"/>'s OpenSSL connection (the <c>SSL*</c>), held for
    /// the call so that a dispose at the same moment cannot free it; <paramref name="unavailable"/> where there is none
    /// (this runtime does not allow it, not yet made, disposed). Shared with <see cref="OpenSslTickets"/>.</summary>
    internal static T WithSsl<TState, T>(SslStream tls, TState state, T unavailable, Func<IntPtr, TState, T> use)
    {
        if (Resolved().Field?.GetValue(tls) is not SafeHandle { IsInvalid: false } ssl || !IsSslHandle(ssl.GetType()))
        {
            return unavailable;
        }

        var added = false;
        try
        {
            ssl.DangerousAddRef(ref added);
            return use(ssl.DangerousGetHandle(), state);
        }
        catch (ObjectDisposedException)
        {
            return unavailable;
        }
        finally
        {
            if (added)
            {
                ssl.DangerousRelease();
            }
        }
    }

    private static bool IsSslHandle(Type type)
    {
        if (type == Volatile.Read(ref _sslHandleType))
        {
            return true;
        }

        if (type.Name != "SafeSslHandle")
        {
            return false;
        }

        Volatile.Write(ref _sslHandleType, type);
        return true;
    }

    /// <summary>The answer for this process, kept once OpenSSL is loaded (before that, asked again each time).</summary>
    internal static Resolution Resolved()
    {
        if (Volatile.Read(ref _resolved) is { } known)
        {
            return known;
        }

        var now = Resolve(LoadedLibraries);
        if (now.Unavailable != NotLoadedYet)
        {
            Volatile.Write(ref _resolved, now);
        }

        return now;
    }

    /// <summary>Where OpenSSL's connection is in an SslStream, or why it cannot be used here.</summary>
    /// <param name="libraries">The libssl files the process has mapped (<see cref="LoadedLibraries"/> outside tests).</param>
    internal static Resolution Resolve(Func<IReadOnlyList<string>> libraries)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new(null, "not Linux");
        }

        var field = typeof(SslStream).GetField("_securityContext", BindingFlags.Instance | BindingFlags.NonPublic);
        if (field is null || field.FieldType.Name != "SafeDeleteSslContext" || !typeof(SafeHandle).IsAssignableFrom(field.FieldType))
        {
            return new(null, $"this .NET's SslStream ({Environment.Version}) has no OpenSSL handle where .NET 10's has it");
        }

        IReadOnlyList<string> loaded;
        try
        {
            loaded = libraries();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new(null, $"cannot read /proc/self/maps: {ex.Message}");
        }

        return loaded switch
        {
            [] => new(null, NotLoadedYet),
            [var only] when Path.GetFileName(only).StartsWith("libssl.so.3", StringComparison.Ordinal) => new(field, null),
            _ => new(null, $"the process has loaded {string.Join(", ", loaded)}, not OpenSSL 3 alone"),
        };
    }

    /// <summary>The libssl files mapped into this process.</summary>
    private static IReadOnlyList<string> LoadedLibraries() =>
        File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
            .Where(path => Path.GetFileName(path).StartsWith("libssl.so", StringComparison.Ordinal))
            .Distinct()
            .ToArray();

    /// <param name="Field">SslStream's field that holds the <c>SSL*</c>; null when <paramref name="Unavailable"/>.</param>
    /// <param name="Unavailable">Why not, or null.</param>
    internal sealed record Resolution(FieldInfo? Field, string? Unavailable);

    [DllImport("libssl.so.3", EntryPoint = "SSL_ctrl")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint SslCtrl(IntPtr ssl, int cmd, nint larg, IntPtr parg);
}
