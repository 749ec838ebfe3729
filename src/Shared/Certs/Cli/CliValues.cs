using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Tunnel.Common;

namespace Tunnel.Certs.Cli;

/// <summary>Checks flag values and turns them into typed values; a bad one is a usage error (exit 2) that names the
/// flag and shows a good value.</summary>
internal static partial class CliValues
{
    public static string Name(string? name)
    {
        if (name is null || !NamePattern().IsMatch(name))
        {
            throw Usage($"'{name}' is not a usable name: use 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit (it becomes issued/NAME.pem)");
        }

        if (name is PkiLayout.RootName or PkiLayout.IntermediateName)
        {
            throw Usage($"'{name}' is the name of a CA certificate in the state folder; choose another name");
        }

        return name;
    }

    public static CertificateKind LeafKind(string? kind) => kind?.ToLowerInvariant() switch
    {
        "server" => CertificateKind.Server,
        "client" => CertificateKind.Client,
        _ => throw Usage($"'{kind}' is not a certificate kind: use 'server' or 'client'"),
    };

    public static KeyAlgorithm Key(string? text)
    {
        if (text is null)
        {
            return KeyAlgorithm.EcdsaP256;
        }

        return KeyAlgorithms.TryParse(text, out var algorithm) ? algorithm : throw Usage($"--key '{text}' is not a key type: use {KeyAlgorithms.Names}");
    }

    public static int Days(int? value, string defaultText, string flag = "--days")
    {
        var days = value ?? CertsDefaults.Days(defaultText);
        return days is >= 1 and <= CertsDefaults.MaxDays ? days : throw Usage($"{flag} {days} is out of range: use 1 to {CertsDefaults.MaxDays}");
    }

    public static List<string> DnsNames(string? list) => Split(list).Select(name =>
    {
        var trimmed = name.TrimEnd('.').ToLowerInvariant();
        return DnsPattern().IsMatch(trimmed) && trimmed.Length <= 253
            ? trimmed
            : throw Usage($"--dns '{name}' is not a DNS name (letters, digits and '-' between dots; '*.' allowed as the first label)");
    }).Distinct().ToList();

    /// <summary>IPv4 in full dotted-quad form only: the parser also takes "10.1.2" (10.1.0.2), never what was meant.</summary>
    public static List<IPAddress> IpAddresses(string? list) => Split(list).Select(text =>
        IPAddress.TryParse(text, out var address) &&
        (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? text.Contains(':', StringComparison.Ordinal) : address.ToString() == text)
            ? address
            : throw Usage($"--ip '{text}' is not an IP address (e.g. 192.0.2.10 or 2001:db8::10)")).Distinct().ToList();

    public static List<Uri> Uris(string? list) => Split(list).Select(text =>
        System.Uri.TryCreate(text, UriKind.Absolute, out var uri) && text.Contains("://", StringComparison.Ordinal)
            ? uri
            : throw Usage($"--uri '{text}' is not an absolute URI (e.g. spiffe://example.org/site/a)")).Distinct().ToList();

    /// <summary>CRL distribution point URLs: absolute http, https or ldap URLs (RFC 5280 §4.2.1.13).</summary>
    public static List<Uri> CrlUrls(string? list) => Split(list).Select(text =>
        System.Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "ldap"
            ? uri
            : throw Usage($"--crl-url '{text}' is not an absolute http, https or ldap URL (e.g. http://pki.example.com/crl.pem)")).Distinct().ToList();

    public static TimeSpan Duration(string? text, string defaultText, string flag) =>
        Durations.TryParse(text ?? defaultText, allowDisabled: false, out var value)
            ? value.Value
            : throw Usage($"{flag} '{text}' is not a duration: write it like {defaultText} ({Durations.Examples})");

    /// <summary>A serial as typed: hex with optional colons, spaces or 0x prefix; normalised to upper case.</summary>
    public static string? Serial(string text)
    {
        var cleaned = text.Trim().Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal);
        if (cleaned.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            cleaned = cleaned[2..];
        }

        return cleaned.Length > 0 && cleaned.All(char.IsAsciiHexDigit) ? cleaned.ToUpperInvariant() : null;
    }

    public static string Date(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    public static CertsException Usage(string message) => new(message, ExitCodes.Usage);

    private static string[] Split(string? list) =>
        (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")]
    private static partial Regex DnsPattern();
}
