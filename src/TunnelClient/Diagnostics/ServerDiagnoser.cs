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
        await using var path = new ProbedPath(server, options.Proxy?.Address ?? server, new ServerCertificateCheck(tls, time, capture: true));
        var steps = new List<DiagnosticStep>();
        var failed = false;
        foreach (var step in Steps(path, cancellationToken))
        {
            if (failed && !step.EvenAfterFailure)
            {
                break;
            }

            failed |= !await RunStepAsync(steps, step);
        }

        return new ServerDiagnosis(server.ToString(), steps.All(s => s.Ok), steps, path.Chain, path.Verdict);
    }

    /// <summary>The checks, in order: each needs the ones before it to have passed, but for the server certificate,
    /// which is reported even when the handshake failed because of it.</summary>
    private IEnumerable<Step> Steps(ProbedPath path, CancellationToken cancellationToken)
    {
        yield return new("dns", () => ResolveAsync(path.Dialled, cancellationToken));
        yield return new("tcp connect", () => ConnectAsync(path, cancellationToken));
        if (options.Proxy is { } proxy)
        {
            yield return new("outbound proxy", () => ThroughProxyAsync(path, proxy, cancellationToken));
        }

        yield return new("tls handshake", () => HandshakeAsync(path, cancellationToken));
        yield return new("server certificate", () => Task.FromResult(JudgeServer(path)), Timed: false, EvenAfterFailure: true);
        yield return new("client certificate", () => ClientAcceptedAsync(path.Endpoint!.Tls, path.HandshakeMs, cancellationToken));
        if (options.Multiplex.Enabled)
        {
            // With multiplexing on, the round trip goes over a stream, as the tunnel's connections will.
            yield return new("multiplexing", () => MultiplexAsync(path, cancellationToken));
            yield return new("round trip", () => RoundTripOverStreamAsync(path, cancellationToken));
        }
        else
        {
            yield return new("round trip", () => RoundTripAsync(path.Endpoint!.Tls, cancellationToken));
        }
    }

    private async Task<string?> ConnectAsync(ProbedPath path, CancellationToken cancellationToken)
    {
        path.Socket = await TcpConnector.ConnectAsync(path.Dialled, options.Timeouts.Connect, KeepAliveOptions.Off, time, cancellationToken);
        return $"{path.Socket.RemoteEndPoint}{(options.Proxy is null ? "" : " (the outbound proxy)")}";
    }

    private async Task<string?> ThroughProxyAsync(ProbedPath path, OutboundProxyOptions proxy, CancellationToken cancellationToken)
    {
        using var scope = new TimeoutScope(options.Timeouts.Connect, time, cancellationToken);
        await HttpConnectTunnel.EstablishAsync(path.Socket!, path.Server, proxy, scope.Token);
        return $"CONNECT {path.Server} accepted by {proxy}";
    }

    private async Task<string?> HandshakeAsync(ProbedPath path, CancellationToken cancellationToken)
    {
        var endpoint = path.Endpoint = new Relay.TlsEndpoint(path.Socket!, new NetworkStream(path.Socket!, ownsSocket: true));
        var stream = endpoint.Tls;
        using var scope = new TimeoutScope(options.Timeouts.Handshake, time, cancellationToken);
        var watch = Stopwatch.StartNew();
        try
        {
            await stream.AuthenticateAsClientAsync(tls.CreateOptions(path.Check), scope.Token);
        }
        catch (Exception) when (path.Check.Verdict is { Ok: false })
        {
            throw new DiagnosisException("refused by this client: the server's certificate failed verification (next step)", null);
        }
        catch (Exception) when (scope.TimedOut)
        {
            throw new DiagnosisException($"no handshake within {Durations.Format(options.Timeouts.Handshake)}",
                "something on the path holds TLS (a filtering firewall, or a proxy that is not passing bytes); try from another network");
        }

        path.HandshakeMs = watch.Elapsed.TotalMilliseconds;
        var alpn = stream.NegotiatedApplicationProtocol.ToString();
        return $"{TlsVersions.Name(stream.SslProtocol)} {stream.NegotiatedCipherSuite}, ALPN {(alpn.Length == 0 ? "none" : alpn)}, " +
            $"SNI {(tls.TargetHost.Length == 0 ? "none" : tls.TargetHost)}";
    }

    /// <summary>The server certificate's verdict; null (no step) when the handshake ended before one was reached.</summary>
    private static string? JudgeServer(ProbedPath path)
    {
        path.Chain = path.Check.Presented.Select(CertificateDescription.Of).ToList();
        if (path.Check.Verdict is not { } judged)
        {
            return path.HandshakeMs > 0
                ? throw new DiagnosisException("the handshake completed without the server's certificate being judged", null)
                : null;
        }

        path.Verdict = VerdictName(judged.Problem);
        return judged.Ok
            ? $"trusted: {Describe(path.Chain)}"
            : throw new DiagnosisException($"{path.Verdict}: {judged.Reason}", AdviceFor(judged.Problem));
    }

    private async Task<string?> MultiplexAsync(ProbedPath path, CancellationToken cancellationToken)
    {
        using var scope = new TimeoutScope(options.Timeouts.Handshake, time, cancellationToken);
        try
        {
            path.Session = await MuxSession.ConnectAsync(path.Endpoint!, 1, time, scope.Token);
        }
        catch (MuxNotSupportedException ex)
        {
            throw new DiagnosisException($"not acknowledged: {ex.Message}",
                "this server does not multiplex (stunnel, an older tunnel-server, or one with multiplex off): turn multiplex off for this tunnel, or on at the server");
        }

        return "acknowledged: connections will be streams over a few TLS connections";
    }

    private async Task<string?> RoundTripOverStreamAsync(ProbedPath path, CancellationToken cancellationToken)
    {
        await using var stream = path.Session!.Open();
        try
        {
            return await RoundTripAsync(stream, cancellationToken);
        }
        finally
        {
            await EndStreamAsync(stream, cancellationToken);
        }
    }

    private async Task<string?> ResolveAsync(HostPort target, CancellationToken cancellationToken)
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
    private static async Task<string?> ClientAcceptedAsync(SslStream stream, double handshakeMs, CancellationToken cancellationToken)
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

    private async Task<string?> RoundTripAsync(Stream stream, CancellationToken cancellationToken)
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

    private async Task<bool> RunStepAsync(List<DiagnosticStep> steps, Step step)
    {
        var watch = Stopwatch.StartNew();
        double? Elapsed() => step.Timed ? watch.Elapsed.TotalMilliseconds : null;
        try
        {
            if (await step.Run() is { } detail)
            {
                steps.Add(new DiagnosticStep(step.Name, true, Elapsed(), detail));
            }

            return true;
        }
        catch (DiagnosisException ex)
        {
            steps.Add(new DiagnosticStep(step.Name, false, Elapsed(), ex.Message, ex.Advice));
        }
        catch (ConnectException ex)
        {
            steps.Add(new DiagnosticStep(step.Name, false, Elapsed(), ex.Message, AdviceFor(ex)));
        }
        catch (OutboundProxyException ex)
        {
            steps.Add(new DiagnosticStep(step.Name, false, Elapsed(), ex.Message,
                "the site's proxy decides this: credentials (407) or its policy (403) for CONNECT to the tunnel-server"));
        }
        catch (Exception ex) when (ex is IOException or SocketException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            steps.Add(new DiagnosticStep(step.Name, false, Elapsed(), SocketErrors.Describe(ex), null));
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

    /// <summary>One check: its name in the report, what it does (its detail on success; null: nothing to report),
    /// whether it is timed, and whether it runs after an earlier check failed.</summary>
    private sealed record Step(string Name, Func<Task<string?>> Run, bool Timed = true, bool EvenAfterFailure = false);

    /// <summary>What the checks find out and hand on: the socket, the TLS connection, the server's chain.</summary>
    private sealed class ProbedPath(HostPort server, HostPort dialled, ServerCertificateCheck check) : IAsyncDisposable
    {
        public HostPort Server => server;

        public HostPort Dialled => dialled;

        public ServerCertificateCheck Check => check;

        public Socket? Socket { get; set; }

        public Relay.TlsEndpoint? Endpoint { get; set; }

        public double HandshakeMs { get; set; }

        public MuxSession? Session { get; set; }

        public IReadOnlyList<CertificateDescription> Chain { get; set; } = [];

        public string? Verdict { get; set; }

        public async ValueTask DisposeAsync()
        {
            if (Session is not null)
            {
                await Session.DisposeAsync();
            }

            if (Endpoint is not null)
            {
                await Endpoint.Tls.DisposeAsync();
            }

            Socket?.Dispose();
        }
    }
}
