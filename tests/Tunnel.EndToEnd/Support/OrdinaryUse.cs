namespace Tunnel.EndToEnd.Support;

/// <summary>What a published pair goes through in ordinary use, for the tests of what stays resident afterwards: 10
/// tunneled connections through the client to a <see cref="MarkedUpstream"/>, then on each daemon (both started with
/// an admin endpoint) a /metrics scrape and a SIGHUP reload, each checked.</summary>
internal static class OrdinaryUse
{
    public static async Task RunAsync(TunnelProcess server, TunnelProcess client, string upstreamName, CancellationToken deadline)
    {
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(upstreamName, await MarkedClient.AskAsync(client.Port, $"r{i}", deadline));
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var daemon in new[] { server, client })
        {
            var port = await daemon.AdminPortAsync(deadline);
            Assert.Contains("tunnel_", await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), deadline), StringComparison.Ordinal);
            daemon.Process.Reload();
            await daemon.WaitForEventAsync(e => e.EventName == "ReloadDone", "reload complete", deadline);
        }
    }
}
