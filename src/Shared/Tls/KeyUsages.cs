using System.Security.Cryptography;

namespace Tunnel.Tls;

/// <summary>Extended key usage OIDs (RFC 5280 §4.2.1.12).</summary>
internal static class KeyUsages
{
    public const string ServerAuthValue = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthValue = "1.3.6.1.5.5.7.3.2";

    public static Oid ServerAuth => new(ServerAuthValue, "serverAuth");

    public static Oid ClientAuth => new(ClientAuthValue, "clientAuth");
}
