namespace Tunnel.Relay;

/// <summary>The time of the last byte moved in either direction of one connection.</summary>
/// <remarks>Touching is one timestamp read and one volatile write, cheap enough for every read and write; the idle
/// timer reads it only when it fires, instead of being reset on every operation.</remarks>
internal sealed class ActivityClock(TimeProvider time)
{
    private long _lastActivity = time.GetTimestamp();

    public TimeProvider Time => time;

    public void Touch() => Volatile.Write(ref _lastActivity, time.GetTimestamp());

    public TimeSpan IdleFor => time.GetElapsedTime(Volatile.Read(ref _lastActivity));
}
