namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>A TLS ServerHello in a capture: the version it selected in supported_versions ("0x0304" for TLS 1.3; empty
/// for TLS 1.2 and older, which have no such extension) and its legacy version field.</summary>
internal sealed record ServerHelloSeen(int Frame, int Stream, string SelectedVersion, string LegacyVersion)
{
    public override string ToString() => $"#{Frame} stream {Stream} selected '{SelectedVersion}' legacy {LegacyVersion}";
}
