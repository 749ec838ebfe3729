namespace Tunnel.EndToEnd.Support.Wire;

/// <summary>A TLS ClientHello in a capture: where it went, the SNI and ALPN offered (empty when the extension is
/// absent), the versions in supported_versions ("0x0304") and the extension type numbers in order.</summary>
internal sealed record ClientHelloSeen(int Frame, int Stream, string Destination, int Port, string ServerName, string Alpn,
    IReadOnlyList<string> SupportedVersions, IReadOnlyList<int> ExtensionTypes)
{
    public const int ServerNameExtension = 0;
    public const int AlpnExtension = 16;

    public override string ToString() =>
        $"#{Frame} stream {Stream} -> {Destination}:{Port} sni '{ServerName}' alpn '{Alpn}' versions [{string.Join(',', SupportedVersions)}] " +
        $"extensions [{string.Join(',', ExtensionTypes)}]";
}
