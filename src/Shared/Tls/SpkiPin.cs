using System.Diagnostics.CodeAnalysis;

namespace Tunnel.Tls;

/// <summary>A SHA-256 pin of a SubjectPublicKeyInfo. Accepts the forms operators paste: <c>sha256/BASE64</c> (what
/// <c>certs inspect</c> prints), <c>sha256:HEX</c>, or the bare base64 or hex digest.</summary>
internal static class SpkiPin
{
    public static bool TryParse(string text, [NotNullWhen(true)] out byte[]? hash)
    {
        hash = null;
        var value = text.Trim();
        if (value.StartsWith("sha256/", StringComparison.OrdinalIgnoreCase) || value.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
        {
            value = value[7..];
        }

        try
        {
            hash = value.Length == 64 ? Convert.FromHexString(value) : Convert.FromBase64String(value);
        }
        catch (FormatException)
        {
            return false;
        }

        if (hash.Length != 32)
        {
            hash = null;
            return false;
        }

        return true;
    }

    public static string Format(ReadOnlySpan<byte> hash) => "sha256/" + Convert.ToBase64String(hash);
}
