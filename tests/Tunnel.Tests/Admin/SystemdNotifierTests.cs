using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Tunnel.Hosting;

namespace Tunnel.Tests.Admin;

/// <summary>The sd_notify datagrams, received on a socket standing in for systemd's.</summary>
public sealed class SystemdNotifierTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"notify-{Guid.NewGuid():N}.sock");
    private readonly Socket _systemd = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

    public SystemdNotifierTests() => _systemd.Bind(new UnixDomainSocketEndPoint(_path));

    [Fact(Timeout = 10_000)]
    public async Task Sends_ready_reloading_with_a_monotonic_clock_and_stopping()
    {
        using var notifier = SystemdNotifier.FromEnvironment(TimeProvider.System, name => name == "NOTIFY_SOCKET" ? _path : null)!;

        notifier.Ready("listening");
        notifier.Reloading();
        notifier.Stopping("draining 3 connections");

        Assert.Equal("READY=1\nSTATUS=listening", await ReceiveAsync());
        var reloading = await ReceiveAsync();
        Assert.StartsWith("RELOADING=1\nMONOTONIC_USEC=", reloading);
        // CLOCK_MONOTONIC in microseconds, which /proc/uptime also counts (from boot).
        var usec = long.Parse(reloading.Split('=')[^1]);
        var uptime = double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(usec / 1e6, uptime - 60, uptime + 60);
        Assert.Equal("STOPPING=1\nSTATUS=draining 3 connections", await ReceiveAsync());
    }

    [Fact(Timeout = 10_000)]
    public async Task Pings_the_watchdog_every_half_interval_when_it_is_for_this_process()
    {
        var time = new FakeTimeProvider();
        using var notifier = SystemdNotifier.FromEnvironment(time, name => name switch
        {
            "NOTIFY_SOCKET" => _path,
            "WATCHDOG_USEC" => "10000000",
            "WATCHDOG_PID" => Environment.ProcessId.ToString(),
            _ => null,
        })!;

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal("WATCHDOG=1", await ReceiveAsync());
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal("WATCHDOG=1", await ReceiveAsync());
    }

    [Fact]
    public void Does_nothing_outside_systemd() =>
        Assert.Null(SystemdNotifier.FromEnvironment(TimeProvider.System, _ => null));

    private async Task<string> ReceiveAsync()
    {
        var buffer = new byte[512];
        var read = await _systemd.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        return Encoding.UTF8.GetString(buffer, 0, read);
    }

    public void Dispose()
    {
        _systemd.Dispose();
        File.Delete(_path);
    }
}
