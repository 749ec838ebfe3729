using System.Globalization;
using System.Runtime.InteropServices;

namespace Tunnel.Hosting;

/// <summary>POSIX signals a daemon answers: SIGTERM/SIGINT/SIGQUIT drain and stop, SIGHUP reloads certificates and
/// trust material, SIGUSR1 reopens log files.</summary>
/// <remarks>.NET keeps a signal that the process inherited ignored ignored, even with a handler registered, so under
/// <c>nohup</c> (SIGHUP ignored) <c>kill -HUP</c> did nothing, and a shell's background job (SIGINT and SIGQUIT
/// ignored) could not be stopped with them. These signals mean something to a daemon, as to stunnel, which takes them
/// over the same way: any of them inherited ignored is set back to its default first, and <see cref="TakenBack"/> says
/// which, for the start-up log.</remarks>
internal sealed class SignalHandlers : IDisposable
{
    // Linux numbers (x86-64 and arm64); PosixSignal has no names for SIGUSR1, and its own values are not these.
    private const int SigHup = 1;
    private const int SigInt = 2;
    private const int SigQuit = 3;
    private const int SigUsr1 = 10;
    private const int SigTerm = 15;

    private static readonly (int Number, string Name)[] Answered =
        [(SigHup, "SIGHUP"), (SigInt, "SIGINT"), (SigQuit, "SIGQUIT"), (SigUsr1, "SIGUSR1"), (SigTerm, "SIGTERM")];

    private readonly List<PosixSignalRegistration> _registrations = [];

    public SignalHandlers(Action stop, Action reload, Action reopenLogs)
    {
        TakenBack = OperatingSystem.IsLinux() ? TakeBackIgnored() : [];
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT })
        {
            _registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                stop();
            }));
        }

        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            ThreadPool.QueueUserWorkItem(_ => reload());
        }));

        if (!OperatingSystem.IsWindows())
        {
            _registrations.Add(PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
            {
                context.Cancel = true;
                reopenLogs();
            }));
        }
    }

    /// <summary>The answered signals this process had inherited ignored, now handled (empty almost always).</summary>
    public IReadOnlyList<string> TakenBack { get; }

    /// <summary>The signals ignored in this process, from <c>SigIgn</c> in /proc/self/status (bit n-1 for signal n);
    /// 0 where it cannot be read.</summary>
    internal static ulong IgnoredMask()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("SigIgn:", StringComparison.Ordinal))
                {
                    return ulong.TryParse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask) ? mask : 0;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return 0;
    }

    private static List<string> TakeBackIgnored()
    {
        var ignored = IgnoredMask();
        var taken = new List<string>();
        foreach (var (number, name) in Answered)
        {
            if ((ignored & (1UL << (number - 1))) != 0 && Signal(number, IntPtr.Zero /* SIG_DFL */) != -1)
            {
                taken.Add(name);
            }
        }

        return taken;
    }

    [DllImport("libc.so.6", EntryPoint = "signal")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint Signal(int signal, nint handler);

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }
}
