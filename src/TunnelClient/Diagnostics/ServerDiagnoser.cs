using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Tunnel.Certs;
using Tunnel.Client.Dialing;
using Tunnel.Client.Options;
using Tunnel.Client.Tls;
using Tunnel.Common;
using Tunnel.Mux;
using Tunnel.Net;
using Tunnel.Tls;

namespace Tunnel.Client.Diagnostics;

/// <summary>Walks the path to one tunnel-server the way a support engineer would, one step at a time, stopping at
/// the first failure (later steps depend on it) and saying what to do about it.</summary>
internal sealed class ServerDiagnoser(ClientTunnelOptions options, ClientTlsState tls, Uri probe, TimeProvider time)
{
    private static readonly TimeSpan RoundTripTimeout = TimeSpan.FromSeconds(15);

    public async Task<ServerDiagnosis> RunAsync(HostPort server, CancellationToken cancellationToken)
    {
        var steps = new List<DiagnosticStep>();
        IReadOnlyList<CertificateDescription> chain = [];
        string? verdict = null;
        Socket? socket = null;
        try
        {
            var dialled = options.Proxy?.Address ?? server;
            if (!await StepAsync(steps, "dns", () => ResolveAsync(dialled, cancellationToken)))
            {
                return Done();
            }

            if (!await StepAsync(steps, "tcp connect", async () =>
            {
                socket = await TcpConnector.ConnectAsync(dialled, options.Timeouts.Connect, KeepAliveOptions.Off, time, cancellationToken);
                return $"{socket.RemoteEndPoint}{(options.Proxy is null ? "" : " (the outbound proxy)")}";
            }))
            {
                return Done();
            }

            if (options.Proxy is { } proxy && !await StepAsync(steps, "outbound proxy", async () =>
            {
                using var scope = new TimeoutScope(options.Timeouts.Connect, time, cancellationToken);
                await HttpConnectTunnel.EstablishAsync(socket!, server, proxy, scope.Token);
                return $"CONNECT {server} accepted by {proxy}";
            }))
            {
                return Done();
            }

            var check = new ServerCertificateCheck(tls, time, capture: true);
            var endpoint = new Relay.TlsEndpoint(socket!, new NetworkStream(socket!, ownsSocket: true));
            var stream = endpoint.Tls;
            var handshakeMs = 0.0;
            var handshake = await StepAsync(steps, "tls handshake", async () =>
            {
                using var scope = new TimeoutScope(options.Timeouts.Handshake, time, cancellationToken);
                var watch = Stopwatch.StartNew();
                try
                {
                    await stream.AuthenticateAsClientAsync(tls.CreateOptions(check), scope.Token);
                }
                catch (Exception) when (check.Verdict is { Ok: false })
                {
                    throw new DiagnosisException("refused by this client: the server's certificate failed verification (next step)", null);
                }
                catch (Exception) when (scope.TimedOut)
                {
                    throw new DiagnosisException($"no handshake within {Durations.Format(options.Timeouts.Handshake)}",
                        "something on the path holds TLS (a filtering firewall, or a proxy that is not passing bytes); try from another network");
                }

                handshakeMs = watch.Elapsed.TotalMilliseconds;
                var alpn = stream.NegotiatedApplicationProtocol.ToString();
                return $"{TlsVersions.Name(stream.SslProtocol)} {stream.NegotiatedCipherSuite}, ALPN {(alpn.Length == 0 ? "none" : alpn)}, " +
                    $"SNI {(tls.TargetHost.Length == 0 ? "none" : tls.TargetHost)}";
            });

            chain = check.Presented.Select(CertificateDescription.Of).ToList();
            if (check.Verdict is { } judged)
            {
                verdict = VerdictName(judged.Problem);
                steps.Add(new DiagnosticStep("server certificate", judged.Ok, null,
                    judged.Ok ? $"trusted: {Describe(chain)}" : $"{verdict}: {judged.Reason}", judged.Ok ? null : AdviceFor(judged.Problem)));
            }

            if (!handshake || check.Verdict is not { Ok: true })
            {
                await stream.DisposeAsync();
                return Done();
            }

            await using (stream)
            {
                if (!await StepAsync(steps, "client certificate", () => ClientAcceptedAsync(stream, handshakeMs, cancellationToken)))
                {
                    return Done();
                }

                if (!options.Multiplex.Enabled)
                {
                    await StepAsync(steps, "round trip", () => RoundTripAsync(stream, cancellationToken));
                    return Done();
                }

                // With multiplexing on, the round trip goes over a stream, as the tunnel's connections will.
                MuxSession? session = null;
                if (await StepAsync(steps, "multiplexing", async () =>
                {
                    using var scope = new TimeoutScope(options.Timeouts.Handshake, time, cancellationToken);
                    try
                    {
                        session = await MuxSession.ConnectAsync(endpoint, 1, time, scope.Token);
                    }
                    catch (MuxNotSupportedException ex)
                    {
                        throw new DiagnosisException($"not acknowledged: {ex.Message}",
                            "this server does not multiplex (stunnel, an older tunnel-server, or one with multiplex off): turn multiplex off for this tunnel, or on at the server");
                    }

                    return "acknowledged: connections will be streams over a few TLS connections";
                }))
                {
                    await using (session!)
                    await using (var muxStream = session!.Open())
                    {
                        await StepAsync(steps, "round trip", () => RoundTripAsync(muxStream, cancellationToken));
                        await EndStreamAsync(muxStream, cancellationToken);
                    }
                }
            }

            return Done();
        }
        finally
        {
            socket?.Dispose();
        }

        ServerDiagnosis Done() => new(server.ToString(), steps.All(s => s.Ok), steps, chain, verdict);
    }

    private async Task<string> ResolveAsync(HostPort target, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(target.Host, out _))
        {
            return $"{target.Host} is an address; nothing to resolve";
        }

        try
        {
            using var scope = new TimeoutScope(options.Timeouts.Connect, time, cancellationToken);
            var addresses = await Dns.GetHostAddressesAsync(target.Host, scope.Token);
            return $"{target.Host} → {string.Join(", ", addresses.Select(a => a.ToString()))}";
        }
        catch (SocketException ex)
        {
            throw new DiagnosisException($"cannot resolve {target.Host}: {SocketErrors.Describe(ex)}",
                options.Proxy is null
                    ? "check the server name and this host's DNS (/etc/resolv.conf)"
                    : "check the outbound proxy's name and this host's DNS; the tunnel-server's name only has to resolve at the proxy");
        }
    }

    /// <summary>tunnel-server refuses a client certificate by closing right after the handshake (without an alert,
    /// to give probers nothing); a connection still open after a few round trips was accepted.</summary>
    private static async Task<string> ClientAcceptedAsync(SslStream stream, double handshakeMs, CancellationToken cancellationToken)
    {
        var wait = TimeSpan.FromMilliseconds(Math.Clamp(handshakeMs * 4, 500, 3000));
        using var scope = new CancellationTokenSource(wait);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(scope.Token, cancellationToken);
        try
        {
#pragma warning disable CA2022 // A zero-byte read only waits for the server to close.
            await stream.ReadAsync(Memory<byte>.Empty, linked.Token);
#pragma warning restore CA2022
        }
        catch (OperationCanceledException) when (scope.IsCancellationRequested)
        {
            return $"accepted (the server kept the connection open for {wait.TotalMilliseconds:0} ms)";
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException)
        {
        }

        throw new DiagnosisException("the server closed the connection right after the handshake: it refuses this client's certificate",
            "check that the client certificate is issued by the fleet's CA, is not revoked, and is in the server's allow-list; the server log's " +
            "'client-rejected' line has the exact reason");
    }

    /// <summary>Ends the probe stream both ways (FIN, then the server's end, briefly), so the server's log calls it
    /// done rather than reset.</summary>
    private static async Task EndStreamAsync(MuxStream stream, CancellationToken cancellationToken)
    {
        try
        {
            await stream.CompleteWritesAsync(cancellationToken);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(TimeSpan.FromSeconds(1));
            var sink = new byte[512];
            while (await stream.ReadAsync(sink, wait.Token) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // Reset instead; nothing to report.
        }
    }

    private async Task<string> RoundTripAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var scope = new TimeoutScope(RoundTripTimeout, time, cancellationToken);
        var request = $"HEAD {probe.AbsoluteUri} HTTP/1.1\r\nHost: {probe.Authority}\r\nUser-Agent: tunnel-client-diagnose\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), scope.Token);
        var buffer = new byte[8192];
        var length = 0;
        try
        {
            int read;
            while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), scope.Token)) > 0)
            {
                length += read;
                if (buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8) >= 0)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (scope.TimedOut)
        {
            throw new DiagnosisException($"no answer within {RoundTripTimeout.TotalSeconds:0} s",
                "the upstream behind tunnel-server did not answer an HTTP request; is it an HTTP proxy, and is it responsive?");
        }

        var head = Encoding.ASCII.GetString(buffer, 0, length);
        if (length == 0)
        {
            throw new DiagnosisException("tunnel-server closed the tunnel without an answer",
                "the server log for this connection says why (its upstream proxy may be down)");
        }

        var lines = head.Split("\r\n");
        var header = (string name) => lines.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..].Trim();
        if (header("X-Tunnel-Error") is { } tunnelError)
        {
            throw new DiagnosisException(tunnelError, "fix the upstream proxy behind tunnel-server (see the server log)");
        }

        var server = header("Server");
        return $"the upstream proxy answered '{lines[0]}'{(server is null ? "" : $" (Server: {server})")}";
    }

    private async Task<bool> StepAsync(List<DiagnosticStep> steps, string name, Func<Task<string>> run)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            var detail = await run();
            steps.Add(new DiagnosticStep(name, true, watch.Elapsed.TotalMilliseconds, detail));
            return true;
        }
        catch (DiagnosisException ex)
        {
            steps.Add(new DiagnosticStep(name, false, watch.Elapsed.TotalMilliseconds, ex.Message, ex.Advice));
        }
        catch (ConnectException ex)
        {
            steps.Add(new DiagnosticStep(name, false, watch.Elapsed.TotalMilliseconds, ex.Message, AdviceFor(ex)));
        }
        catch (OutboundProxyException ex)
        {
            steps.Add(new DiagnosticStep(name, false, watch.Elapsed.TotalMilliseconds, ex.Message,
                "the site's proxy decides this: credentials (407) or its policy (403) for CONNECT to the tunnel-server"));
        }
        catch (Exception ex) when (ex is IOException or SocketException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            steps.Add(new DiagnosticStep(name, false, watch.Elapsed.TotalMilliseconds, SocketErrors.Describe(ex), null));
        }

        return false;
    }

    private string AdviceFor(ConnectException ex) => ex.Failure switch
    {
        ConnectFailure.Refused => $"nothing listens at {ex.Target}: check the address and port, and that {(options.Proxy is null ? "tunnel-server" : "the proxy")} runs there",
        ConnectFailure.Timeout => $"no answer from {ex.Target}: a firewall drops the traffic; ask for a rule allowing TCP to {ex.Target} (the only rule Tunnel needs)",
        ConnectFailure.Unreachable => "no route to that network: check this host's routing and default gateway",
        ConnectFailure.Dns => "check the name and this host's DNS",
        _ => "check the network path",
    };

    private static string? AdviceFor(PeerProblem problem) => problem switch
    {
        PeerProblem.Intercepted => "ask the network team to exempt the tunnel-server address from TLS inspection, or reach it through the outbound proxy path",
        PeerProblem.UnknownIssuer => "check the server address; if it is right, the network may be intercepting TLS",
        PeerProblem.Expired => "renew the server's certificate (certs renew) and reload tunnel-server; also check this host's clock",
        PeerProblem.NotYetValid => "check this host's clock (and the server's)",
        PeerProblem.NameMismatch => "set serverName to a name in the server certificate, or reissue the certificate with this name",
        PeerProblem.PinMismatch => "update serverPins with the pin of the new key (certs inspect shows it), or pin the CA instead",
        PeerProblem.WrongUsage => "reissue the server certificate as a server certificate (certs issue server)",
        _ => null,
    };

    private static string VerdictName(PeerProblem problem) => problem switch
    {
        PeerProblem.None => "trusted",
        PeerProblem.Intercepted => "intercepted",
        PeerProblem.UnknownIssuer => "unknown-ca",
        PeerProblem.Expired => "expired",
        PeerProblem.NotYetValid => "not-yet-valid",
        PeerProblem.NameMismatch => "name-mismatch",
        PeerProblem.PinMismatch => "pin-mismatch",
        PeerProblem.WrongUsage => "wrong-usage",
        _ => "invalid",
    };

    private static string Describe(IReadOnlyList<CertificateDescription> chain) => chain.Count == 0
        ? "no certificate"
        : $"{chain[0].Subject} issued by {chain[0].Issuer}, valid until {chain[0].NotAfter:yyyy-MM-dd}, spki {chain[0].SpkiPin}";
}
