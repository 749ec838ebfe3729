using System.Numerics;

namespace Tunnel.Tls;

/// <summary>Certificate serial numbers in one canonical form (upper-case hex without leading zeros), so that a
/// serial from a CRL and one from a certificate compare equal however each was encoded.</summary>
internal static class RevokedSerials
{
    public static string Canonical(ReadOnlySpan<byte> bigEndianSerial)
    {
        var start = 0;
        while (start < bigEndianSerial.Length - 1 && bigEndianSerial[start] == 0)
        {
            start++;
        }

        return Convert.ToHexString(bigEndianSerial[start..]);
    }

    public static string Canonical(BigInteger serial) => Canonical(serial.ToByteArray(isUnsigned: true, isBigEndian: true));

    /// <summary>From a hex string as certificates show it (<c>X509Certificate2.SerialNumber</c>).</summary>
    public static string Canonical(string hex) => Canonical(Convert.FromHexString(hex.Length % 2 == 1 ? "0" + hex : hex));
}
