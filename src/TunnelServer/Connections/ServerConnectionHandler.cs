using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Tunnel.Balancing;
using Tunnel.Common;
using Tunnel.Hosting;
using Tunnel.Http;
using Tunnel.Logging;
using Tunnel.Mux;
using Tunnel.Net;
using Tunnel.Net.ProxyProtocol;
using Tunnel.Relay;
using Tunnel.Server.Admission;
using Tunnel.Server.Decoy;
using Tunnel.Server.Options;
using Tunnel.Server.Tls;
using Tunnel.Server.Upstream;
using Tunnel.Tls;

namespace Tunnel.Server.Connections;

/// <summary>Serves one accepted connection: the PROXY header when a load balancer must send one, the per-source and
/// handshake-rate limits, the TLS handshake with the client certificate verified (header and handshake together under
/// the handshake timeout), the per-identity limit, then (on the first byte, by default) a connection to the upstream,
/// then the relay. Nothing reaches the upstream before the client is authenticated; a client that is not goes to the
/// decoy when one is configured, and is refused otherwise.</summary>
internal sealed class ServerConnectionHandler
{
    private static readonly TimeSpan ErrorLinger = TimeSpan.FromSeconds(2);

    private readonly ServerTunnelOptions _options;
    private readonly Reloadable<ServerTlsState> _tls;
    private readonly UpstreamConnector _upstream;
    private readonly AdmissionControl _admission;
    private readonly DecoyForwarder? _decoy;
    private readonly DaemonContext _context;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationToken _abort;
    private readonly RelayOptions _relayOptions;
    private readonly LogThrottle _badHeaderWarnings;

    public ServerConnectionHandler(ServerTunnelOptions options, Reloadable<ServerTlsState> tls, UpstreamConnector upstream, AdmissionControl admission,
        DaemonContext context)
    {
        _options = options;
        _tls = tls;
        _upstream = upstream;
        _admission = admission;
        _decoy = options.Edge.Decoy is { } decoy ? new DecoyForwarder(decoy, options, context) : null;
        _context = context;
        _logger = context.Logger;
        _time = context.Time;
        _abort = context.Abort;
        _badHeaderWarnings = new LogThrottle(AdmissionControl.WarningInterval, context.Time);
        var series = context.Metrics.For(options.Name);
        _relayOptions = options.Timeouts.ToRelayOptions() with { CountUp = series.BytesUp.Add, CountDown = series.BytesDown.Add };
    }

    public async Task HandleAsync(Socket socket)
    {
        using var record = _context.NewRecord(_options.Name, socket.RemoteEndPoint?.ToString() ?? "?");
        TlsEndpoint? client = null;
        try
        {
            ClientAddresses addresses;
            PeerVerdict? verdict;
            IReadOnlyList<X509Certificate2> intermediates;

            // One deadline for the PROXY header and the TLS handshake together: a slow header must not buy a slow
            // handshake a second full timeout.
            using (var handshake = new TimeoutScope(_options.Timeouts.Handshake, _time, _abort))
            {
                var received = await ReceiveAddressesAsync(socket, record, handshake);
                if (received is null)
                {
                    return;
                }

                addresses = received.Value.Addresses;
                if (_admission.AdmitSource(addresses.Source.Address, record) is not { } sourceLease)
                {
                    return;
                }

                // Held until the connection's close line, not its last byte: see ConnectionRecord.Hold.
                record.Hold(sourceLease);
                if (!_admission.AdmitHandshake(record))
                {
                    return;
                }

                Stream transport = new NetworkStream(socket, ownsSocket: true);
                if (received.Value.Following.Length > 0)
                {
                    transport = new PrefixedStream(received.Value.Following, transport);
                }

                client = new TlsEndpoint(socket, transport);
                if (await HandshakeAsync(client, record, handshake, addresses.BalancerOwn) is not { } judged)
                {
                    return;
                }

                (verdict, intermediates) = judged;
            }

            if (!verdict.Ok)
            {
                // Only reachable with a decoy: without one the handshake itself fails.
                await _decoy!.RelayAsync(client, record, verdict);
                return;
            }

            // Closed like a refused certificate (no alert, no close_notify): the client learns nothing more.
            if (_admission.AdmitIdentity(verdict.PeerName, record) is not { } identityLease)
            {
                return;
            }

            record.Hold(identityLease);

            record.Metrics.Accepted(AcceptOutcome.Success).Increment();
            await ServeAsync(client, addresses, record, intermediates);
        }
        finally
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }
            else
            {
                socket.Dispose();
            }
        }
    }

    private async Task ServeAsync(TlsEndpoint client, ClientAddresses addresses, ConnectionRecord record, IReadOnlyList<X509Certificate2> intermediates)
    {
        using var first = _options.Dial == UpstreamDial.FirstByte ? await ReadFirstChunkAsync(client, record) : null;
        if (_options.Dial == UpstreamDial.FirstByte && first is null)
        {
            return;
        }

        if (first is not null && _options.Multiplex.Enabled && MuxProtocol.StartsWithPreamble(first.Data.Span))
        {
            await ServeMultiplexedAsync(client, first, addresses, record, intermediates);
            return;
        }

        await ForwardAsync(client, client.Tls, first, addresses, record);
    }

    /// <summary>A client that multiplexes: this TLS connection carries its tunneled connections as streams, each
    /// forwarded (and logged, counted, limited per identity) like a connection of its own. The connection lasts
    /// until the client closes it; a drain asks the client for no new streams (GOAWAY) and closes it once its streams
    /// have ended, as does the idle timeout when it has carried none for that long.</summary>
    private async Task ServeMultiplexedAsync(TlsEndpoint client, FirstChunk first, ClientAddresses addresses, ConnectionRecord record,
        IReadOnlyList<X509Certificate2> intermediates)
    {
        record.Upstream = "(multiplexed)";
        record.Opened(TlsVersions.Name(client.Tls.SslProtocol), client.Tls.NegotiatedCipherSuite.ToString());
        var identity = record.PeerIdentity;
        var peer = record.Peer;
        var policy = new SessionPolicy(_tls, (X509Certificate2)client.Tls.RemoteCertificate!, intermediates, _time);
        MuxSession? session = null;
        session = MuxSession.Accept(client, first.Data[MuxProtocol.Preamble.Length..], _options.Multiplex.MaxStreams,
            stream => ServeStreamAsync(stream, session!, policy, client.Tls, addresses, identity, peer), _time);
        first.Release();
        var reason = CloseOutcome.Done;
        try
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(_context.Draining, _abort);
            while (!session.Closed.IsCompleted && !_abort.IsCancellationRequested)
            {
                var idle = _options.Timeouts.Idle;
                var wait = _context.Draining.IsCancellationRequested || idle == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan : idle - session.IdleFor;
                if (wait > TimeSpan.Zero || wait == Timeout.InfiniteTimeSpan)
                {
                    await Task.WhenAny(session.Closed, Task.Delay(wait, _time, stop.Token));
                }

                var draining = _context.Draining.IsCancellationRequested;
                if (session.Closed.IsCompleted || _abort.IsCancellationRequested || (!draining && session.IdleFor < idle))
                {
                    continue;
                }

                // Draining, or idle for the idle timeout: no new streams, then close once none is open. Streams the
                // client opened before it read the GOAWAY are still served: the connection stays a moment after.
                session.SendGoAway();
                reason = draining ? CloseOutcome.Drained : CloseOutcome.IdleTimeout;
                await Task.WhenAny(session.Closed, WhenEmptyFor(session, _relayOptions.DrainIdle, _abort));
                break;
            }
        }
        finally
        {
            await session.DisposeAsync();
            if (_abort.IsCancellationRequested)
            {
                reason = CloseOutcome.Shutdown;
            }
            else if (session.Error is { } error)
            {
                reason = CloseOutcome.ClientError;
                ConnectionLog.RelayError(_logger, record.Tunnel, record.Id, error);
            }

            record.Closed(reason);
        }
    }

    /// <summary>Completes once the session has carried no stream for <paramref name="quiet"/>.</summary>
    private async Task WhenEmptyFor(MuxSession session, TimeSpan quiet, CancellationToken cancellationToken)
    {
        while (!session.Closed.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            await session.WhenEmptyAsync().WaitAsync(cancellationToken);
            var left = quiet - session.IdleFor;
            if (session.StreamCount == 0 && left <= TimeSpan.Zero)
            {
                return;
            }

            await Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(50), _time, cancellationToken);
        }
    }

    /// <summary>One stream of a multiplexed connection: a tunneled connection of its own, with its own record. The
    /// client's certificate is judged again when the policy was reloaded since (a new CRL, allow-list or CA) or the
    /// certificate has expired: a client refused now opens no new stream, as it could open no new connection.</summary>
    private async Task ServeStreamAsync(MuxStream stream, MuxSession session, SessionPolicy policy, SslStream tls, ClientAddresses addresses,
        string identity, string peer)
    {
        // Counted like an accepted connection: it takes its share of maxConnections (one descriptor, its upstream
        // connection: half a relayed connection), the drain waits for it, and the memory trimmer sees the load go.
        // With no room it is refused at once: a stream has no kernel backlog to wait in.
        if (_context.Limiter.TryAcquireStream() is not { } slot)
        {
            using var refused = _context.NewRecord(_options.Name, peer);
            refused.PeerIdentity = identity;
            refused.Metrics.Accepted(AcceptOutcome.Limited).Increment();
            stream.Abort($"tunnel-server is at its connection limit (maxConnections {_context.Limiter.Limit})");
            await stream.DisposeAsync();
            refused.Closed(CloseOutcome.Limited);
            return;
        }

        _context.Tracker.Enter();
        try
        {
            await ServeTrackedStreamAsync(stream, session, policy, tls, addresses, identity, peer, slot);
        }
        finally
        {
            _context.Tracker.Exit();
            slot.Dispose();
        }
    }

    private async Task ServeTrackedStreamAsync(MuxStream stream, MuxSession session, SessionPolicy policy, SslStream tls, ClientAddresses addresses,
        string identity, string peer, IDisposable slot)
    {
        using var record = _context.NewRecord(_options.Name, peer);
        record.PeerIdentity = identity;
        record.Hold(slot); // given back before the close line: once the log says the stream ended, its room is free
        await using (stream)
        {
            if (policy.Refusal() is { } refusal)
            {
                record.Metrics.Accepted(AcceptOutcome.Rejected).Increment();
                ConnectionLog.HandshakeFailed(_logger, record.Tunnel, record.Id, record.Peer, refusal + " (a stream of its multiplexed connection; no new streams there)");
                session.SendGoAway();
                stream.Abort("tunnel-server no longer accepts this client's certificate (its log says why)");
                record.Closed(CloseOutcome.ClientRejected);
                return;
            }

            if (_admission.AdmitIdentity(identity, record) is not { } identityLease)
            {
                stream.Abort("tunnel-server's limit of connections for this client certificate is reached (maxConnectionsPerIdentity)");
                return;
            }

            record.Hold(identityLease);
            record.Metrics.Accepted(AcceptOutcome.Success).Increment();
            FirstChunk? first;
            using (var scope = new TimeoutScope(_options.Timeouts.Idle, _time, _abort))
            {
                try
                {
                    first = await FirstChunk.ReadAsync(stream, scope.Token);
                }
                catch (Exception ex)
                {
                    stream.Abort();
                    record.Closed(scope.TimedOut ? CloseOutcome.IdleTimeout : _abort.IsCancellationRequested ? CloseOutcome.Shutdown : CloseOutcome.ClientError,
                        routine: SocketErrors.IsRoutine(ex));
                    return;
                }
            }

            using (first)
            {
                if (first is null)
                {
                    record.Closed(CloseOutcome.NoData, routine: true);
                    return;
                }

                await ForwardAsync(stream, tls, first, addresses, record);
            }
        }
    }

    /// <summary>The connection's real endpoints and the bytes read past a PROXY header, or null when the connection
    /// was closed for want of a valid header (counted and logged here).</summary>
    private async Task<(ClientAddresses Addresses, byte[] Following)?> ReceiveAddressesAsync(Socket socket, ConnectionRecord record, TimeoutScope handshake)
    {
        try
        {
            var direct = new ClientAddresses((IPEndPoint)socket.RemoteEndPoint!, (IPEndPoint)socket.LocalEndPoint!);
            SocketTuning.Apply(socket, _options.KeepAlive);
            if (_options.Edge.ProxyProtocol == ProxyProtocolMode.Off)
            {
                return (direct, []);
            }

            var (header, following) = await ProxyHeaderReader.ReadAsync(socket, _options.Edge.ProxyProtocol, handshake.Token);
            var version = header.Version == ProxyProtocolVersion.V1 ? "v1" : "v2";
            if (header.Source is not { } source)
            {
                // LOCAL (a balancer's own health check) or UNKNOWN: the real endpoints stand.
                AdmissionLog.ProxyHeaderWithoutAddress(_logger, record.Tunnel, record.Id, version, direct.Source.ToString(),
                    header.IsLocal ? "LOCAL: the balancer's own connection, such as a health check" : "no client address (UNKNOWN or a non-TCP family)");
                return (direct with { BalancerOwn = header.IsLocal }, following);
            }

            record.Peer = source.ToString();
            AdmissionLog.ProxyHeaderReceived(_logger, record.Tunnel, record.Id, version, direct.Source.ToString(), record.Peer, header.Destination!.ToString());
            return (new ClientAddresses(source, header.Destination, direct.Source), following);
        }
        catch (ProxyHeaderException ex)
        {
            record.Metrics.Accepted(AcceptOutcome.BadProxyHeader).Increment();
            if (_badHeaderWarnings.ShouldLog(out var suppressed))
            {
                AdmissionLog.ProxyHeaderInvalid(_logger, record.Tunnel, record.Id, record.Peer, ex.Message, suppressed,
                    Durations.Format(_badHeaderWarnings.Interval));
            }
            else
            {
                AdmissionLog.ProxyHeaderInvalidQuiet(_logger, record.Tunnel, record.Id, record.Peer, ex.Message);
            }

            record.Closed(CloseOutcome.BadProxyHeader, routine: true);
        }
        catch (Exception ex)
        {
            Failed(record, handshake, ex, $"no PROXY protocol header within {Durations.Format(_options.Timeouts.Handshake)}", null, balancerCheck: false);
        }

        return null;
    }

    /// <summary>The client's verdict after a completed handshake (refused only when a decoy takes such clients), or
    /// null when the handshake failed (counted, logged and closed here).</summary>
    /// <param name="client">The accepted connection.</param>
    /// <param name="record">Its record.</param>
    /// <param name="handshake">The deadline shared with the PROXY header.</param>
    /// <param name="balancerCheck">A balancer's health check: one that closes without a handshake is routine.</param>
    private async Task<(PeerVerdict Verdict, IReadOnlyList<X509Certificate2> Intermediates)?> HandshakeAsync(TlsEndpoint client, ConnectionRecord record,
        TimeoutScope handshake, bool balancerCheck)
    {
        var state = _tls.Current;
        var check = new ClientCertificateCheck(state, _time, completeRefusedHandshakes: _decoy is not null);
        var started = _time.GetTimestamp();
        try
        {
            await client.AuthenticateAsServerAsync(state.CreateOptions(check), handshake.Token);

            // Fail closed: a handshake that completed without the check having judged a certificate is not an
            // authenticated one.
            var verdict = check.Verdict ?? new PeerVerdict(PeerProblem.NoCertificate, "the client presented no certificate");
            record.PeerIdentity = verdict.PeerName;
            record.Metrics.Handshake.Observe(_time.GetElapsedTime(started).TotalSeconds);
            if (!verdict.Ok && _decoy is null)
            {
                Failed(record, handshake, new AuthenticationException(verdict.Reason), "", verdict, balancerCheck);
                return null;
            }

            return (verdict, check.Intermediates);
        }
        catch (Exception ex)
        {
            Failed(record, handshake, ex, $"no complete handshake within {Durations.Format(_options.Timeouts.Handshake)}", check.Verdict, balancerCheck);
            return null;
        }
    }

    /// <summary>Counts, logs and closes a connection whose PROXY header or handshake failed.</summary>
    private void Failed(ConnectionRecord record, TimeoutScope handshake, Exception ex, string timeoutDetail, PeerVerdict? verdict, bool balancerCheck)
    {
        CloseOutcome reason;
        string detail;
        if (handshake.TimedOut)
        {
            reason = CloseOutcome.HandshakeTimeout;
            detail = timeoutDetail;
        }
        else if (verdict is { Ok: false })
        {
            reason = CloseOutcome.ClientRejected;
            detail = verdict.Reason;
            record.PeerIdentity = verdict.PeerName;
        }
        else
        {
            reason = _abort.IsCancellationRequested ? CloseOutcome.Shutdown : CloseOutcome.HandshakeFailed;
            detail = SocketErrors.Describe(ex);
        }

        record.Metrics.Accepted(reason switch
        {
            CloseOutcome.HandshakeTimeout => AcceptOutcome.Timeout,
            CloseOutcome.ClientRejected => AcceptOutcome.Rejected,
            _ => AcceptOutcome.Error,
        }).Increment();
        if (reason == CloseOutcome.HandshakeFailed && SocketErrors.IsRoutine(ex))
        {
            // A TCP probe or a client that gave up: not worth a warning.
            ConnectionLog.RoutineError(_logger, record.Tunnel, record.Id, "handshake: " + detail, ex);
        }
        else if (reason != CloseOutcome.Shutdown)
        {
            ConnectionLog.HandshakeFailed(_logger, record.Tunnel, record.Id, record.Peer, detail);
        }

        // A balancer's health check connects, sends its LOCAL header and leaves, every second or two: like a TCP
        // probe, not worth a close line at information level.
        record.Closed(reason, routine: balancerCheck && reason == CloseOutcome.HandshakeFailed && SocketErrors.IsRoutine(ex));
    }

    /// <summary>Waits (up to the idle timeout) for the client's first bytes, holding no buffer while it waits (a
    /// client's warm pool keeps connections here); null when the client closed without sending anything, or failed.</summary>
    private async Task<FirstChunk?> ReadFirstChunkAsync(TlsEndpoint client, ConnectionRecord record)
    {
        // An authenticated connection that has sent nothing (a client's warm pool) is not in flight: a drain
        // closes it at once, with close_notify, so the client simply drops it from its pool. One whose handshake has
        // only just finished is a request whose first bytes are on their way: it gets a moment to send them.
        using var drain = new DrainGrace(_relayOptions.DrainIdle, _time, _context.Draining);
        using var scope = new TimeoutScope(_options.Timeouts.Idle, _time, _abort, drain.Token);
        try
        {
            if (await FirstChunk.ReadAsync(client.Stream, scope.Token) is { } chunk)
            {
                return chunk;
            }

            record.Closed(CloseOutcome.NoData, routine: true);
        }
        catch (OperationCanceledException) when (_context.Draining.IsCancellationRequested && !_abort.IsCancellationRequested)
        {
            // The cancelled read leaves the TLS stream unusable for a close_notify; a FIN is the graceful end left.
            client.Socket.Shutdown(SocketShutdown.Both);
            record.Closed(CloseOutcome.Drained, routine: true);
        }
        catch (Exception ex)
        {
            client.Abort();
            record.Closed(scope.TimedOut ? CloseOutcome.IdleTimeout : _abort.IsCancellationRequested ? CloseOutcome.Shutdown : CloseOutcome.ClientError);
            ConnectionLog.RelayError(_logger, record.Tunnel, record.Id, ex);
        }

        return null;
    }

    private async Task ForwardAsync(IRelayEndpoint client, SslStream tls, FirstChunk? chunk, ClientAddresses addresses, ConnectionRecord record)
    {
        var first = chunk?.Data ?? ReadOnlyMemory<byte>.Empty;
        Socket upstreamSocket;
        IDisposable lease;
        try
        {
            (upstreamSocket, var upstream, lease) = await _upstream.ConnectAsync(_abort);
            record.Upstream = upstream.ToString();
        }
        catch (BackendsDownException ex)
        {
            record.Upstream = string.Join(",", _options.Upstreams);
            record.Metrics.UpstreamConnectErrors(record.Upstream).Increment();
            ConnectionLog.UpstreamFailed(_logger, record.Tunnel, record.Id, record.Upstream, ex.Message);
            if (ProxyRequest.IsProxyRequest(first.Span))
            {
                await ProxyErrorResponse.RespondAsync(client, first, ProxyErrorResponse.ServiceUnavailable,
                    $"tunnel-server cannot reach its upstream proxy: {ex.Message}", ErrorLinger, _time, _abort);
            }
            else
            {
                client.Abort();
            }

            record.Closed(CloseOutcome.UpstreamUnreachable);
            return;
        }

        // A proxy request whose upstream closes (or fails) before any answer, say a Squid that is shutting down, gets
        // a 502 naming the upstream instead of a bare close, which tunnel-client could only put down to a refused
        // certificate; once it has been delivered, the connection is cut after a short linger.
        var upstreamEndpoint = new TcpEndpoint(upstreamSocket);
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(_abort);
        ITimer? lingerTimer = null;
        GuardedEndpoint? guarded = null;
        if (ProxyRequest.IsProxyRequest(first.Span))
        {
            guarded = new GuardedEndpoint(upstreamEndpoint, NoAnswer(record.Upstream), reason =>
            {
                ConnectionLog.UpstreamFailed(_logger, record.Tunnel, record.Id, record.Upstream, reason);
                lingerTimer = _time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), linger, ErrorLinger, Timeout.InfiniteTimeSpan);
            });
        }

        IRelayEndpoint upstreamRelay = guarded is null ? upstreamEndpoint : guarded;
        using (lease)
        await using (upstreamRelay)
        {
            record.Opened(TlsVersions.Name(tls.SslProtocol), tls.NegotiatedCipherSuite.ToString());
            try
            {
                if (_options.Edge.UpstreamProxyProtocol is { } version)
                {
                    // First on the connection and in one write, so the upstream sees it whole before any client byte.
                    await upstreamEndpoint.Stream.WriteAsync(ProxyHeaderWriter.Build(version, addresses.Source, addresses.Destination), _abort);
                }

                if (!first.IsEmpty)
                {
                    await upstreamEndpoint.Stream.WriteAsync(first, _abort);
                    record.BytesUp = first.Length;
                    record.Metrics.BytesUp.Add(first.Length);
                    chunk!.Release();
                }
            }
            catch (Exception ex)
            {
                client.Abort();
                upstreamEndpoint.Abort();
                record.Closed(CloseOutcome.UpstreamError);
                ConnectionLog.RelayError(_logger, record.Tunnel, record.Id, ex);
                return;
            }

            var result = await DuplexRelay.RunAsync(client, upstreamRelay, _relayOptions, _time, _context.Draining, linger.Token);
            lingerTimer?.Dispose();
            record.BytesUp += result.BytesUp;
            record.BytesDown = result.BytesDown;
            if (guarded?.Answered502 == true)
            {
                record.Closed(CloseOutcome.NoAnswer);
                return;
            }

            record.Closed(result.Reason.ToOutcome());
            ConnectionLog.RelayError(_logger, record.Tunnel, record.Id, result.Error);
        }
    }

    private static Func<Exception?, string> NoAnswer(string upstream) => ex => ex is null
        ? $"tunnel-server's upstream proxy {upstream} closed the connection without answering (it may be shutting down)"
        : $"tunnel-server's upstream proxy {upstream} failed before answering: {SocketErrors.Describe(ex)}";

    /// <summary>The policy a multiplexed connection's client certificate was last judged under, judged again when
    /// the policy is reloaded or the certificate expires.</summary>
    private sealed class SessionPolicy(Reloadable<ServerTlsState> tls, X509Certificate2 leaf, IReadOnlyList<X509Certificate2> intermediates, TimeProvider time)
    {
        private ServerTlsState _judgedUnder = tls.Current;
        private string? _refusal;

        /// <summary>Null while the client is still accepted; the reason once it is not (it stays refused).</summary>
        public string? Refusal()
        {
            var current = tls.Current;
            if (_refusal is null && (!ReferenceEquals(current, _judgedUnder) || time.GetUtcNow() > leaf.NotAfter))
            {
                var verdict = ClientCertificateCheck.Recheck(current, leaf, intermediates, time);
                if (verdict.Ok)
                {
                    _judgedUnder = current;
                }
                else
                {
                    _refusal = verdict.Reason;
                }
            }

            return _refusal;
        }
    }
}
