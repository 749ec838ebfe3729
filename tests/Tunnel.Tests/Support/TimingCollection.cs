namespace Tunnel.Tests.Support;

/// <summary>Tests that measure latency run in this collection: alone, after the parallel test classes, so that other
/// tests' handshakes and transfers on the same cores do not skew their figures.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "Timing";
}
