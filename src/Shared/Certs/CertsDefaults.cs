using System.Globalization;

namespace Tunnel.Certs;

/// <summary>Defaults of the <c>certs</c> commands, as text, shared by the help output, the commands and the docs.</summary>
internal static class CertsDefaults
{
    public const string Directory = "./pki";

    /// <summary>Environment variable naming the state folder when <c>--dir</c> is not given.</summary>
    public const string DirectoryVariable = "TUNNEL_PKI_DIR";

    public const string Key = "ecdsa-p256";

    public const string RootCommonName = "Tunnel Root CA";

    public const string IntermediateCommonName = "Tunnel Intermediate CA";

    /// <summary>Ten years: a root is rotated by hand and distributed to every site, so it should outlive them.</summary>
    public const string RootDays = "3650";

    /// <summary>Five years, half the root's: the intermediate can be replaced without touching the trust anchor.</summary>
    public const string IntermediateDays = "1826";

    /// <summary>397 days, the CA/Browser Forum ceiling for public server certificates; tools that lint against it
    /// stay quiet.</summary>
    public const string ServerDays = "397";

    /// <summary>One year: a site renews once a year, on a date someone will remember.</summary>
    public const string ClientDays = "365";

    /// <summary>A week: short enough that a stolen certificate is not honoured for long by a server that missed an
    /// update, long enough to survive a weekend without a refresh.</summary>
    public const string CrlDays = "7";

    public const string InspectTimeout = "5s";

    /// <summary>How far before "now" a certificate's validity starts, so a peer whose clock is a little behind does
    /// not reject a certificate issued a moment ago.</summary>
    public static readonly TimeSpan Backdate = TimeSpan.FromMinutes(5);

    /// <summary>Upper bound for any <c>--days</c>: a hundred years is a typo, not a plan.</summary>
    public const int MaxDays = 36500;

    public static int Days(string text) => int.Parse(text, CultureInfo.InvariantCulture);
}
