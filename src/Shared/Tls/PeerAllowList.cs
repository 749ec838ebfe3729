using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Tls;

/// <summary>Which authenticated peers may use a tunnel, by certificate identity: subject CN, DNS SAN (a leading
/// <c>*.</c> matches one label), URI SAN, or SPKI pin. An empty list admits any peer with a valid chain.</summary>
/// <remarks>Entries are written <c>cn:site-a</c>, <c>dns:site-a.example.com</c>, <c>uri:spiffe://corp/site-a</c>,
/// <c>spki:sha256/BASE64</c>.</remarks>
internal sealed class PeerAllowList
{
    private readonly HashSet<string> _commonNames;
    private readonly List<string> _dnsNames;
    private readonly HashSet<string> _uris;
    private readonly List<byte[]> _pins;

    private PeerAllowList(HashSet<string> commonNames, List<string> dnsNames, HashSet<string> uris, List<byte[]> pins)
    {
        _commonNames = commonNames;
        _dnsNames = dnsNames;
        _uris = uris;
        _pins = pins;
    }

    public static PeerAllowList Empty { get; } = new([], [], [], []);

    public bool IsEmpty => _commonNames.Count + _dnsNames.Count + _uris.Count + _pins.Count == 0;

    public int Count => _commonNames.Count + _dnsNames.Count + _uris.Count + _pins.Count;

    /// <summary>Parses entries; each malformed one is reported in <paramref name="errors"/>.</summary>
    public static PeerAllowList Parse(IEnumerable<string> entries, List<string> errors)
    {
        var commonNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var dnsNames = new List<string>();
        var uris = new HashSet<string>(StringComparer.Ordinal);
        var pins = new List<byte[]>();
        foreach (var raw in entries)
        {
            var entry = raw.Trim();
            if (entry.Length == 0 || entry.StartsWith('#'))
            {
                continue;
            }

            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            var kind = colon > 0 ? entry[..colon].ToLowerInvariant() : "";
            var value = colon > 0 ? entry[(colon + 1)..].Trim() : entry;
            switch (kind)
            {
                case "cn" when value.Length > 0:
                    commonNames.Add(value);
                    break;
                case "dns" when value.Length > 0:
                    dnsNames.Add(value.ToLowerInvariant());
                    break;
                case "uri" when value.Length > 0:
                    uris.Add(value);
                    break;
                case "spki" when SpkiPin.TryParse(value, out var pin):
                    pins.Add(pin);
                    break;
                default:
                    errors.Add($"'{entry}' is not an identity; write cn:NAME, dns:NAME, uri:URI or spki:sha256/BASE64");
                    break;
            }
        }

        return new PeerAllowList(commonNames, dnsNames, uris, pins);
    }

    public bool Allows(X509Certificate2 certificate)
    {
        if (IsEmpty)
        {
            return true;
        }

        var cn = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (!string.IsNullOrEmpty(cn) && _commonNames.Contains(cn))
        {
            return true;
        }

        if (_pins.Count > 0)
        {
            var hash = CertificateInfo.SpkiHash(certificate);
            if (_pins.Any(p => p.AsSpan().SequenceEqual(hash)))
            {
                return true;
            }
        }

        foreach (var san in CertificateInfo.SubjectAlternativeNames(certificate))
        {
            if (san.StartsWith("DNS:", StringComparison.Ordinal) && _dnsNames.Any(pattern => DnsMatches(pattern, san[4..])))
            {
                return true;
            }

            if (san.StartsWith("URI:", StringComparison.Ordinal) && _uris.Contains(san[4..]))
            {
                return true;
            }
        }

        return false;
    }

    private static bool DnsMatches(string pattern, string name)
    {
        name = name.ToLowerInvariant();
        if (!pattern.StartsWith("*.", StringComparison.Ordinal))
        {
            return pattern == name;
        }

        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && name[(dot + 1)..] == pattern[2..];
    }
}
