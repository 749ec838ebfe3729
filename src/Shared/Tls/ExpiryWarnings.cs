using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Tunnel.Tls;

/// <summary>Warns ahead of the dates that take a tunnel down: its own certificate's expiry, its CAs' expiry, and a
/// CRL's next update.</summary>
internal static partial class ExpiryWarnings
{
    public static void Check(ILogger logger, string tunnel, TlsIdentity? identity, TrustBundle? trust, RevocationChecker? revocation,
        TimeSpan window, DateTimeOffset now)
    {
        if (identity is not null)
        {
            Warn(logger, tunnel, "certificate", identity.Certificate, identity.Source, window, now);
        }

        if (trust is not null)
        {
            foreach (var ca in trust.Roots.Concat(trust.Intermediates))
            {
                Warn(logger, tunnel, "CA certificate", ca, trust.Source, window, now);
            }
        }

        foreach (var crl in revocation?.Lists ?? [])
        {
            if (crl.NextUpdate is { } next && next < now)
            {
                LogCrlStale(logger, tunnel, revocation!.Source, crl.Issuer.Name, next);
            }
        }
    }

    private static void Warn(ILogger logger, string tunnel, string what, X509Certificate2 certificate, string source, TimeSpan window, DateTimeOffset now)
    {
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        var left = notAfter - now;
        if (left <= window)
        {
            LogExpiring(logger, tunnel, what, CertificateInfo.ShortName(certificate), source, Math.Max(0, (int)left.TotalDays), notAfter);
        }
    }

    [LoggerMessage(EventId = 210, EventName = "CertificateExpiring", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel}: {What} {Subject} in '{Source}' expires in {Days} days ({NotAfter:yyyy-MM-dd}); renew it and reload (SIGHUP)")]
    private static partial void LogExpiring(ILogger logger, string tunnel, string what, string subject, string source, int days, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 211, EventName = "CrlStale", Level = LogLevel.Warning,
        Message = "tunnel {Tunnel}: the CRL of '{Issuer}' in '{Source}' was due for renewal on {NextUpdate:yyyy-MM-dd HH:mm} UTC; " +
            "its revocations are still enforced, but regenerate it (certs crl) and reload")]
    private static partial void LogCrlStale(ILogger logger, string tunnel, string source, string issuer, DateTimeOffset nextUpdate);
}
