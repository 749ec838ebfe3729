using System.Diagnostics.CodeAnalysis;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Common;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Certs.Cli;

/// <summary>Connects to a TLS server and records the certificates it presents, without trusting them: the
/// validation callback accepts anything, and nothing is sent after the handshake.</summary>
internal static class TlsChainProbe
{
    [SuppressMessage("Security", "CA5359:Do not disable certificate validation",
        Justification = "Inspection shows what a server presents, trusted or not; the verdict is computed separately, and no data is sent over this connection.")]
    public static async Task<PresentedChain> CaptureAsync(HostPort target, string? serverName, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var presented = new X509Certificate2Collection();
        using var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(target.Host, target.Port, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CertsException($"cannot connect to {target}: no answer within {Durations.Format(timeout)}", ExitCodes.Failure);
        }
        catch (SocketException ex)
        {
            throw new CertsException($"cannot connect to {target}: {ex.Message}", ExitCodes.Failure);
        }

        using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            // An IP literal is not sent as SNI (RFC 6066 §3); SslStream skips it.
            TargetHost = serverName ?? target.Host,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            // SslStream's own chain build would otherwise fetch the issuer, OCSP and CRL URLs the server's certificate
            // names: the server could make the operator's machine connect wherever it likes. The daemons' no-download
            // policy on system trust (the callback below accepts whatever it finds; the verdict comes later).
            CertificateChainPolicy = TrustBundle.CreateSystemPolicy(KeyUsages.ServerAuth),
            RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            {
                Capture(presented, certificate, chain);
                return true;
            },
        };
        string? error = null;
        try
        {
            await tls.AuthenticateAsClientAsync(options, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            error = $"no TLS handshake within {Durations.Format(timeout)}";
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            error = ex.InnerException is { } inner ? $"{ex.Message.TrimEnd('.')}: {inner.Message}" : ex.Message;
        }

        if (presented.Count == 0)
        {
            throw new CertsException($"{target} presented no certificate{(error is null ? "" : ": " + error)} (is it a TLS port?)", ExitCodes.Failure);
        }

        return error is null
            ? new PresentedChain(presented, Describe(tls.SslProtocol), tls.NegotiatedCipherSuite.ToString(), null)
            : new PresentedChain(presented, null, null, error);
    }

    /// <summary>The leaf, then the other certificates the server sent. On Linux, SslStream puts the certificates
    /// from the peer's Certificate message (other than the leaf) in the chain's ExtraStore.</summary>
    private static void Capture(X509Certificate2Collection presented, X509Certificate? certificate, X509Chain? chain)
    {
        if (certificate is null || presented.Count > 0)
        {
            return;
        }

        presented.Add(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        foreach (var extra in chain?.ChainPolicy.ExtraStore ?? [])
        {
            if (!extra.RawDataMemory.Span.SequenceEqual(presented[0].RawDataMemory.Span))
            {
                presented.Add(X509CertificateLoader.LoadCertificate(extra.RawData));
            }
        }
    }

    private static string Describe(SslProtocols protocol) => protocol switch
    {
        SslProtocols.Tls13 => "TLS 1.3",
        SslProtocols.Tls12 => "TLS 1.2",
        _ => protocol.ToString(),
    };
}
