using System.Runtime.InteropServices;

namespace Tunnel.Hosting;

/// <summary>POSIX signals a daemon answers: SIGTERM/SIGINT/SIGQUIT drain and stop, SIGHUP reloads certificates and
/// trust material, SIGUSR1 reopens log files.</summary>
internal sealed class SignalHandlers : IDisposable
{
    // Linux x86-64 and arm64 numbers; PosixSignal has no names for these.
    private const int SigUsr1 = 10;

    private readonly List<PosixSignalRegistration> _registrations = [];

    public SignalHandlers(Action stop, Action reload, Action reopenLogs)
    {
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

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }
}
