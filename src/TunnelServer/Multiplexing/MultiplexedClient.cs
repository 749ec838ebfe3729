using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Tunnel.Admission;
using Tunnel.Common;
using Tunnel.Hosting;
using Tunnel.Logging;
using Tunnel.Mux;
using Tunnel.Net;
using Tunnel.Relay;
using Tunnel.Server.Handshake;
using Tunnel.Server.Options;
using Tunnel.Server.Tls;
using Tunnel.Server.Upstream;
using Tunnel.Tls;

namespace Tunnel.Server.Multiplexing;

/// <summary>A client that multiplexes: its TLS connection carries its tunneled connections as streams, each
/// forwarded (and logged, counted, limited per identity) like a connection of its own. The connection lasts until
/// the client closes it; a drain asks the client for no new streams (GOAWAY) and closes it once its streams have
/// ended, as does the idle timeout when it has carried none for that long.</summary>
internal sealed class MultiplexedClient(
    ServerTunnelOptions options,
    Reloadable<ServerTlsState> tls,
    ConnectionAdmission admission,
    UpstreamForwarder forwarder,
    HandshakeLog handshakeFailures,
    TimeSpan drainIdle,
    DaemonContext context)
{
    private readonly ILogger _logger = context.Logger;
    private readonly TimeProvider _time = context.Time;
    private readonly CancellationToken _abort = context.Abort;

    public async Task ServeAsync(TlsEndpoint client, FirstChunk first, ClientAddresses addresses, ConnectionRecord record,
        VerifiedChain verified)
    {
        record.Upstream = "(multiplexed)";
        record.Opened(TlsVersions.Name(client.Tls.SslProtocol), client.Tls.NegotiatedCipherSuite.ToString());
        var identity = record.PeerIdentity;
        var peer = record.Peer;
        var policy = new SessionPolicy(tls, verified.Leaf, verified.Intermediates, _time);
        MuxSession? session = null;
        session = MuxSession.Accept(client, first.Data[MuxProtocol.Preamble.Length..], options.Multiplex.MaxStreams,
            stream => ServeStreamAsync(stream, session!, policy, client.Tls, addresses, identity, peer), _time);
        first.Release();
        var reason = CloseOutcome.Done;
        try
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.Draining, _abort);
            while (!session.Closed.IsCompleted && !_abort.IsCancellationRequested)
            {
                var idle = options.Timeouts.Idle;
                var wait = context.Draining.IsCancellationRequested || idle == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan : idle - session.IdleFor;
                if (wait > TimeSpan.Zero || wait == Timeout.InfiniteTimeSpan)
                {
                    await Task.WhenAny(session.Closed, Task.Delay(wait, _time, stop.Token));
                }

                var draining = context.Draining.IsCancellationRequested;
                if (session.Closed.IsCompleted || _abort.IsCancellationRequested || (!draining && session.IdleFor < idle))
                {
                    continue;
                }

                // Draining, or idle for the idle timeout: no new streams, then close once none is open. Streams the
                // client opened before it read the GOAWAY are still served: the connection stays a moment after.
                session.SendGoAway();
                reason = draining ? CloseOutcome.Drained : CloseOutcome.IdleTimeout;
                await Task.WhenAny(session.Closed, WhenEmptyFor(session, drainIdle, _abort));
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
    private async Task ServeStreamAsync(MuxStream stream, MuxSession session, SessionPolicy policy, SslStream tlsStream, ClientAddresses addresses,
        string identity, string peer)
    {
        // Counted like an accepted connection: it takes its share of maxConnections (one descriptor, its upstream
        // connection: half a relayed connection), the drain waits for it, and the memory trimmer sees the load go.
        // With no room it is refused at once: a stream has no kernel backlog to wait in.
        if (context.Limiter.TryAcquireStream() is not { } slot)
        {
            using var refused = context.NewRecord(options.Name, peer);
            refused.PeerIdentity = identity;
            refused.Metrics.Accepted(AcceptOutcome.Limited).Increment();
            refused.Metrics.MaxConnectionsReached.Increment();
            stream.Abort($"tunnel-server is at its connection limit (maxConnections {context.Limiter.Limit})");
            await stream.DisposeAsync();
            refused.Closed(CloseOutcome.Limited);
            return;
        }

        context.Tracker.Enter();
        try
        {
            await ServeTrackedStreamAsync(stream, session, policy, tlsStream, addresses, identity, peer, slot);
        }
        finally
        {
            context.Tracker.Exit();
            slot.Dispose();
        }
    }

    private async Task ServeTrackedStreamAsync(MuxStream stream, MuxSession session, SessionPolicy policy, SslStream tlsStream, ClientAddresses addresses,
        string identity, string peer, IDisposable slot)
    {
        using var record = context.NewRecord(options.Name, peer);
        record.PeerIdentity = identity;
        record.Hold(slot); // given back before the close line: once the log says the stream ended, its room is free
        await using (stream)
        {
            if (policy.Refusal() is { } refusal)
            {
                record.Metrics.Accepted(AcceptOutcome.Rejected).Increment();
                handshakeFailures.Failed(record, CloseOutcome.ClientRejected, "stream", refusal + " (a stream of its multiplexed connection; no new streams there)");
                session.SendGoAway();
                stream.Abort("tunnel-server no longer accepts this client's certificate (its log says why)");
                record.Closed(CloseOutcome.ClientRejected);
                return;
            }

            if (admission.AdmitIdentity(identity, record) is not { } identityLease)
            {
                stream.Abort("tunnel-server's limit of connections for this client certificate is reached (maxConnectionsPerIdentity)");
                return;
            }

            record.Hold(identityLease);
            record.Metrics.Accepted(AcceptOutcome.Success).Increment();
            FirstChunk? first;
            using (var scope = new TimeoutScope(options.Timeouts.Idle, _time, _abort))
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

                await forwarder.ForwardAsync(stream, tlsStream, first, addresses, record);
            }
        }
    }

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
