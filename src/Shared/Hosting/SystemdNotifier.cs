using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Tunnel.Hosting;

/// <summary>The systemd notification protocol (sd_notify(3)): one datagram per state change to $NOTIFY_SOCKET.
/// READY=1 once listening, RELOADING=1 with MONOTONIC_USEC around a reload (for Type=notify-reload), STOPPING=1 when
/// draining, and WATCHDOG=1 every half of $WATCHDOG_USEC. Microsoft.Extensions.Hosting.Systemd sends only READY=1 and
/// STOPPING=1, from the generic host's lifetime, which these daemons do not run: it has no reload or watchdog.</summary>
internal sealed class SystemdNotifier : IDisposable
{
    private readonly Socket _socket;
    private readonly UnixDomainSocketEndPoint _endPoint;
    private readonly ITimer? _watchdog;

    private SystemdNotifier(string path, TimeSpan? watchdogInterval, TimeProvider time)
    {
        // A leading '@' names a socket in the abstract namespace.
        _endPoint = new UnixDomainSocketEndPoint(path.StartsWith('@') ? "\0" + path[1..] : path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        if (watchdogInterval is { } interval)
        {
            _watchdog = time.CreateTimer(static s => ((SystemdNotifier)s!).Notify("WATCHDOG=1"), this, interval, interval);
        }
    }

    /// <summary>A notifier when the process runs under systemd with notification enabled; null otherwise.</summary>
    public static SystemdNotifier? FromEnvironment(TimeProvider time, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var path = environment("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        TimeSpan? watchdog = null;
        var watchdogPid = environment("WATCHDOG_PID");
        if (long.TryParse(environment("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) && usec > 0 &&
            (string.IsNullOrEmpty(watchdogPid) || watchdogPid == Environment.ProcessId.ToString(CultureInfo.InvariantCulture)))
        {
            watchdog = TimeSpan.FromMicroseconds(usec / 2.0);
        }

        return new SystemdNotifier(path, watchdog, time);
    }

    public void Ready(string status) => Notify($"READY=1\nSTATUS={status}");

    /// <summary>RELOADING=1 with the monotonic clock in µs, as Type=notify-reload requires; follow with
    /// <see cref="Ready"/>.</summary>
    public void Reloading() => Notify($"RELOADING=1\nMONOTONIC_USEC={(long)Stopwatch.GetElapsedTime(0).TotalMicroseconds}");

    public void Stopping(string status) => Notify($"STOPPING=1\nSTATUS={status}");

    public void Status(string status) => Notify($"STATUS={status}");

    public void Notify(string message)
    {
        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(message), _endPoint);
        }
        catch (SocketException)
        {
            // systemd went away (or never listened); notifications are advisory.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _watchdog?.Dispose();
        _socket.Dispose();
    }
}
