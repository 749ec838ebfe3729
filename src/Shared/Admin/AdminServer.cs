using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tunnel.Metrics;
using Tunnel.Net;

namespace Tunnel.Admin;

/// <summary>The admin endpoint on Kestrel (from the ASP.NET Core shared framework): <c>/healthz</c> (the process
/// answers), <c>/readyz</c> (every tunnel listening with a valid certificate and a backend that answered recently;
/// 503 otherwise, and while draining), <c>/metrics</c> (Prometheus text format).</summary>
internal sealed partial class AdminServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AdminServer(WebApplication app, IPEndPoint endPoint)
    {
        _app = app;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    public static async Task<AdminServer> StartAsync(HostPort listen, Func<bool> stopping, IReadOnlyList<IReadinessSource> tunnels,
        MetricsRegistry metrics, ILoggerFactory loggers, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!listen.TryGetBindAddress(out var address))
        {
            throw new StartupException($"admin endpoint: cannot listen on {listen}: use an IP address, 'localhost' or '*'");
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(loggers));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, listen.Port);
        });
        var app = builder.Build();

        // RequestDelegate handlers (HttpContext in, a Task out) need no generated code, so they also run under Native AOT.
        app.MapGet("/healthz", context => Results.Text("ok\n").ExecuteAsync(context));
        app.MapGet("/readyz", context =>
        {
            var now = time.GetUtcNow();
            var report = tunnels.Select(t => t.Readiness(now)).ToList();
            var ready = !stopping() && report.All(t => t.Ready);
            var body = new ReadinessReport(stopping() ? "stopping" : ready ? "ready" : "not ready", report);
            return Results.Json(body, AdminJsonContext.Default.ReadinessReport, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable)
                .ExecuteAsync(context);
        });
        app.MapGet("/metrics", context => Results.Text(metrics.Render(), "text/plain; version=0.0.4; charset=utf-8").ExecuteAsync(context));

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException ex)
        {
            await app.DisposeAsync();
            throw new StartupException($"admin endpoint: cannot listen on {listen}: {ex.Message}", ex);
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(bound).Port;
        var endPoint = new IPEndPoint(address, port);
        LogListening(loggers.CreateLogger("admin"), endPoint.ToString());
        return new AdminServer(app, endPoint);
    }

    public async ValueTask DisposeAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(deadline.Token);
        await _app.DisposeAsync();
    }

    [LoggerMessage(EventId = 30, EventName = "AdminListening", Level = LogLevel.Information,
        Message = "admin endpoint on http://{Address} (/healthz, /readyz, /metrics)")]
    private static partial void LogListening(ILogger logger, string address);
}
