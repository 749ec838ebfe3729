namespace Tunnel.Tests.Certs;

/// <summary>A clock the test moves by hand, to see certificates expire without waiting.</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;
}
