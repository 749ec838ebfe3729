using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace Tunnel.Net;

/// <summary>A <c>host:port</c> pair as written in configuration: <c>name:443</c>, <c>10.0.0.1:443</c>,
/// <c>[::1]:443</c>, or <c>:443</c> / <c>*:443</c> for every address (listeners only).</summary>
internal readonly record struct HostPort(string Host, int Port)
{
    public bool IsWildcard => Host is "" or "*";

    public static bool TryParse(string? text, [NotNullWhen(true)] out HostPort? value, out string error)
    {
        value = null;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "is empty; expected host:port, for example 127.0.0.1:3129 or tunnel.example.com:443";
            return false;
        }

        text = text.Trim();
        string host;
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                error = $"'{text}' is not a valid [ipv6]:port address";
                return false;
            }

            host = text[1..close];
            portText = text[(close + 2)..];
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon < 0)
            {
                error = $"'{text}' has no port; expected host:port, for example {text}:443";
                return false;
            }

            host = text[..colon];
            portText = text[(colon + 1)..];
            if (host.Contains(':', StringComparison.Ordinal))
            {
                error = $"'{text}' looks like an IPv6 address: write it as [address]:port";
                return false;
            }
        }

        // No name or address holds a space, a control character or a bracket; such a host would also not survive being
        // written back (found by fuzzing: "[ ]:1", "[[]:1").
        if (host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '[' or ']'))
        {
            error = $"'{text}' has a space, control character or bracket in its host";
            return false;
        }

        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
        {
            error = $"'{text}' has an invalid port '{portText}' (0-65535)";
            return false;
        }

        value = new HostPort(host, port);
        return true;
    }

    public static HostPort Parse(string text) =>
        TryParse(text, out var value, out var error) ? value.Value : throw new FormatException(error);

    /// <summary>The address to bind for a listener: a literal IP, <c>localhost</c>, or every address.</summary>
    public bool TryGetBindAddress([NotNullWhen(true)] out IPAddress? address)
    {
        if (IsWildcard)
        {
            address = IPAddress.IPv6Any;
            return true;
        }

        if (string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
            return true;
        }

        return IPAddress.TryParse(Host, out address);
    }

    public override string ToString() =>
        Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
