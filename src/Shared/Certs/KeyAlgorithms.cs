using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Certs;

/// <summary>Command-line names of <see cref="KeyAlgorithm"/> and descriptions of the keys in certificates.</summary>
internal static class KeyAlgorithms
{
    public const string Names = "ecdsa-p256 or rsa3072";

    private const string EcPublicKeyOid = "1.2.840.10045.2.1";
    private const string RsaPublicKeyOid = "1.2.840.113549.1.1.1";
    private const string P256Oid = "1.2.840.10045.3.1.7";

    public static bool TryParse(string? text, out KeyAlgorithm algorithm)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "ecdsa-p256" or "ecdsa" or "ec" or "p256" or "p-256":
                algorithm = KeyAlgorithm.EcdsaP256;
                return true;
            case "rsa3072" or "rsa-3072" or "rsa":
                algorithm = KeyAlgorithm.Rsa3072;
                return true;
            default:
                algorithm = default;
                return false;
        }
    }

    public static string Name(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa3072 => "rsa3072",
        _ => "ecdsa-p256",
    };

    /// <summary>The algorithm to reissue a certificate with: the one it has, if this CA can make it.</summary>
    public static bool TryGetAlgorithm(X509Certificate2 certificate, [NotNullWhen(true)] out KeyAlgorithm? algorithm)
    {
        algorithm = null;
        switch (certificate.PublicKey.Oid.Value)
        {
            case EcPublicKeyOid:
                using (var ec = certificate.GetECDsaPublicKey())
                {
                    if (ec?.ExportParameters(false).Curve.Oid.Value == P256Oid)
                    {
                        algorithm = KeyAlgorithm.EcdsaP256;
                    }
                }

                break;
            case RsaPublicKeyOid:
                using (var rsa = certificate.GetRSAPublicKey())
                {
                    if (rsa?.KeySize == 3072)
                    {
                        algorithm = KeyAlgorithm.Rsa3072;
                    }
                }

                break;
            default:
                break;
        }

        return algorithm is not null;
    }

    /// <summary>"ECDSA P-256", "RSA 3072", "Ed25519", or the algorithm OID.</summary>
    public static string Describe(X509Certificate2 certificate)
    {
        var oid = certificate.PublicKey.Oid;
        switch (oid.Value)
        {
            case EcPublicKeyOid:
                using (var ec = certificate.GetECDsaPublicKey())
                {
                    return "ECDSA " + CurveName(ec?.ExportParameters(false).Curve.Oid);
                }

            case RsaPublicKeyOid:
                using (var rsa = certificate.GetRSAPublicKey())
                {
                    return $"RSA {rsa?.KeySize}";
                }

            case "1.3.101.112":
                return "Ed25519";
            case "1.3.101.113":
                return "Ed448";
            default:
                return oid.FriendlyName ?? oid.Value ?? "unknown";
        }
    }

    private static string CurveName(Oid? curve) => curve?.Value switch
    {
        P256Oid => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        _ => curve?.FriendlyName ?? curve?.Value ?? "(unknown curve)",
    };
}
