using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Certs;

/// <summary>The revocation reasons (RFC 5280 §5.3.1) an operator may give, by their RFC names.</summary>
internal static class RevocationReasons
{
    private static readonly (string Name, X509RevocationReason Reason)[] Known =
    [
        ("keyCompromise", X509RevocationReason.KeyCompromise),
        ("superseded", X509RevocationReason.Superseded),
        ("cessationOfOperation", X509RevocationReason.CessationOfOperation),
        ("affiliationChanged", X509RevocationReason.AffiliationChanged),
        ("caCompromise", X509RevocationReason.CACompromise),
        ("unspecified", X509RevocationReason.Unspecified),
    ];

    public static string Names => string.Join("|", Known.Select(k => k.Name));

    public static bool TryParse(string? text, out X509RevocationReason reason)
    {
        foreach (var (name, value) in Known)
        {
            if (string.Equals(name, text?.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                reason = value;
                return true;
            }
        }

        reason = default;
        return false;
    }

    public static string Name(X509RevocationReason reason) =>
        Known.FirstOrDefault(k => k.Reason == reason).Name ?? reason.ToString();
}
