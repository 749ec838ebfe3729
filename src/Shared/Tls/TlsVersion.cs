using System.Security.Authentication;

namespace Tunnel.Tls;

/// <summary>The lowest TLS version a tunnel accepts. Nothing below 1.2 is offered or accepted.</summary>
internal enum TlsVersion
{
    /// <summary>TLS 1.3 only (the default).</summary>
    Tls13,

    /// <summary>TLS 1.2 and 1.3, for old peers.</summary>
    Tls12,
}

internal static class TlsVersions
{
    public static readonly IReadOnlyDictionary<string, TlsVersion> Names = new Dictionary<string, TlsVersion>
    {
        ["1.3"] = TlsVersion.Tls13,
        ["tls1.3"] = TlsVersion.Tls13,
        ["1.2"] = TlsVersion.Tls12,
        ["tls1.2"] = TlsVersion.Tls12,
    };

    public static SslProtocols ToProtocols(this TlsVersion minimum) => minimum switch
    {
        TlsVersion.Tls12 => SslProtocols.Tls12 | SslProtocols.Tls13,
        _ => SslProtocols.Tls13,
    };

    public static string Name(SslProtocols protocol) => protocol switch
    {
        SslProtocols.Tls13 => "TLSv1.3",
        SslProtocols.Tls12 => "TLSv1.2",
        _ => protocol.ToString(),
    };
}
