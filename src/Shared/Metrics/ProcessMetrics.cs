using System.Diagnostics;
using Tunnel.Common;
using Tunnel.Relay;
using Tunnel.Tls;

namespace Tunnel.Metrics;

/// <summary>The standard <c>process_*</c> metrics, read from /proc at scrape time.</summary>
internal static class ProcessMetrics
{
    public static void Register(MetricsRegistry registry)
    {
        var resident = registry.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.").WithLabels();
        var openFds = registry.Gauge("process_open_fds", "Number of open file descriptors.").WithLabels();
        var maxFds = registry.Gauge("process_max_fds", "Maximum number of open file descriptors.").WithLabels();
        var cpu = registry.SampledCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.").WithLabels();
        var start = registry.Gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.").WithLabels();
        var gcHeap = registry.Gauge("dotnet_gc_heap_bytes", "Bytes in the managed heap after the last collection.").WithLabels();
        var collections = registry.SampledCounter("dotnet_gc_collections_total",
            "Garbage collections by the oldest generation collected (gen0, gen1, gen2), induced ones included.", "generation");
        var byGeneration = Enumerable.Range(0, GC.MaxGeneration + 1).Select(g => (g, collections.WithLabels($"gen{g}"))).ToArray();
        var pooled = registry.Gauge("tunnel_buffer_pool_bytes", "Bytes of relay buffers kept for reuse, not in use.").WithLabels();
        var released = registry.SampledCounter("tunnel_tls_idle_buffer_release_total",
            "TLS connections set to free OpenSSL's record buffers while idle (SSL_MODE_RELEASE_BUFFERS).").WithLabels();
        var storedChains = registry.SampledCounter("tunnel_tls_resumed_stored_chain_total",
            "Resumed TLS handshakes whose peer was judged on the chain its session's full handshake verified, without verifying it again.").WithLabels();
        using (var self = Process.GetCurrentProcess())
        {
            start.Set(new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        }

        registry.OnCollect(() =>
        {
            using var self = Process.GetCurrentProcess();
            resident.Set(self.WorkingSet64);
            cpu.Set(self.TotalProcessorTime.TotalSeconds);
            gcHeap.Set(GC.GetGCMemoryInfo().HeapSizeBytes);
            foreach (var (generation, counter) in byGeneration)
            {
                // CollectionCount(g) counts every collection of g or older: the difference is those that stopped at g.
                counter.Set(GC.CollectionCount(generation) - (generation < GC.MaxGeneration ? GC.CollectionCount(generation + 1) : 0));
            }

            pooled.Set(BufferPool.Shared.RetainedBytes);
            released.Set(OpenSslBuffers.Released);
            storedChains.Set(PeerVerdict.StoredChainsJudged);
            try
            {
                openFds.Set(Directory.GetFiles("/proc/self/fd").Length);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            if (FileDescriptorLimit.Current() is { } limit)
            {
                maxFds.Set(limit);
            }
        });
    }
}
