using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Tunnel.Admission;
using Tunnel.Common;
using Tunnel.Hosting;
using Tunnel.Logging;
using Tunnel.Net;
using Tunnel.Net.ProxyProtocol;
using Tunnel.Relay;
using Tunnel.Server.Options;
using Tunnel.Server.Tls;
using Tunnel.Tls;

namespace Tunnel.Server.Handshake;

/// <summary>A connection whose TLS handshake completed: who it really comes from, and what the client certificate
/// is worth. <see cref="Verdict"/> is a refusal only when a decoy takes such clients; without one the handshake
/// itself fails.</summary>
internal sealed record CompletedHandshake(TlsEndpoint Client, ClientAddresses Addresses, PeerVerdict Verdict, VerifiedChain? Verified);

/// <summary>Takes an accepted socket to an authenticated client: the PROXY header when a load balancer must send
/// one, the per-source and handshake-rate limits, then the TLS handshake with the client certificate judged, all under
/// one handshake timeout (a slow header must not buy a slow handshake a second full timeout). A connection that fails
/// any of these is counted, logged (throttled) and closed here.</summary>
internal sealed class ClientHandshake
{
    private readonly ServerTunnelOptions _options;
    private readonly Reloadable<ServerTlsState> _tls;
    private readonly ConnectionAdmission _admission;
    private readonly bool _completeRefused;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationToken _abort;
    private readonly LogThrottle _badHeaderWarnings;

    /// <param name="completeRefused">A decoy takes unauthenticated clients: complete their handshakes and return them
    /// with the refusal, instead of failing the handshake.</param>
    public ClientHandshake(ServerTunnelOptions options, Reloadable<ServerTlsState> tls, ConnectionAdmission admission, bool completeRefused,
        DaemonContext context)
    {
        _options = options;
        _tls = tls;
        _admission = admission;
        _completeRefused = completeRefused;
        _logger = context.Logger;
        _time = context.Time;
        _abort = context.Abort;
        _badHeaderWarnings = new LogThrottle(ConnectionAdmission.WarningInterval, context.Time);
        Failures = new HandshakeLog(context.Logger, context.Time);
    }

    /// <summary>Throttled warnings about failed handshakes, shared with the rechecks of multiplexed streams.</summary>
    public HandshakeLog Failures { get; }

    /// <summary>The completed handshake, or null when the connection was refused or failed (then closed, the socket
    /// included). On success the caller owns <see cref="CompletedHandshake.Client"/>.</summary>
    public async Task<CompletedHandshake?> AuthenticateAsync(Socket socket, ConnectionRecord record)
    {
        TlsEndpoint? client = null;
        try
        {
            using var handshake = new TimeoutScope(_options.Timeouts.Handshake, _time, _abort);
            if (await ReceiveAddressesAsync(socket, record, handshake) is not { } received)
            {
                return null;
            }

            var addresses = received.Addresses;
            if (_admission.AdmitSource(addresses.Source.Address, record) is not { } sourceLease)
            {
                return null;
            }

            // Held until the connection's close line, not its last byte: see ConnectionRecord.Hold.
            record.Hold(sourceLease);
            if (!_admission.AdmitHandshake(record))
            {
                return null;
            }

            Stream transport = new NetworkStream(socket, ownsSocket: true);
            if (received.Following.Length > 0)
            {
                transport = new PrefixedStream(received.Following, transport);
            }

            client = new TlsEndpoint(socket, transport);
            if (await HandshakeAsync(client, record, handshake, addresses.BalancerOwn) is not { } judged)
            {
                return null;
            }

            var completed = new CompletedHandshake(client, addresses, judged.Verdict, judged.Verified);
            client = null;
            return completed;
        }
        finally
        {
            if (client is not null)
            {
                await client.DisposeAsync();
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
                ProxyHeaderLog.ProxyHeaderWithoutAddress(_logger, record.Tunnel, record.Id, version, direct.Source.ToString(),
                    header.IsLocal ? "LOCAL: the balancer's own connection, such as a health check" : "no client address (UNKNOWN or a non-TCP family)");
                return (direct with { BalancerOwn = header.IsLocal }, following);
            }

            record.Peer = source.ToString();
            ProxyHeaderLog.ProxyHeaderReceived(_logger, record.Tunnel, record.Id, version, direct.Source.ToString(), record.Peer, header.Destination!.ToString());
            return (new ClientAddresses(source, header.Destination, direct.Source), following);
        }
        catch (ProxyHeaderException ex)
        {
            record.Metrics.Accepted(AcceptOutcome.BadProxyHeader).Increment();
            if (_badHeaderWarnings.ShouldLog(out var suppressed))
            {
                ProxyHeaderLog.ProxyHeaderInvalid(_logger, record.Tunnel, record.Id, record.Peer, ex.Message, suppressed,
                    Durations.Format(_badHeaderWarnings.Interval));
            }
            else
            {
                ProxyHeaderLog.ProxyHeaderInvalidQuiet(_logger, record.Tunnel, record.Id, record.Peer, ex.Message);
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
    private async Task<(PeerVerdict Verdict, VerifiedChain? Verified)?> HandshakeAsync(TlsEndpoint client, ConnectionRecord record,
        TimeoutScope handshake, bool balancerCheck)
    {
        var state = _tls.Current;
        var check = new ClientCertificateCheck(state, _time, completeRefusedHandshakes: _completeRefused);
        var started = _time.GetTimestamp();
        try
        {
            await client.AuthenticateAsServerAsync(state.CreateOptions(check), handshake.Token);

            // Fail closed: a handshake that completed without the check having judged a certificate is not an
            // authenticated one.
            var verdict = check.Verdict ?? new PeerVerdict(PeerProblem.NoCertificate, "the client presented no certificate");
            record.PeerIdentity = verdict.PeerName;
            record.Metrics.Handshaked(_time.GetElapsedTime(started), check.Resumed);
            if (!verdict.Ok && !_completeRefused)
            {
                Failed(record, handshake, new AuthenticationException(verdict.Reason), "", verdict, balancerCheck);
                return null;
            }

            return (verdict, check.Verified);
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
            Failures.Failed(record, reason, verdict is { Ok: false } ? verdict.Problem.ToString() : null, detail);
        }

        // A balancer's health check connects, sends its LOCAL header and leaves, every second or two: like a TCP
        // probe, not worth a close line at information level.
        record.Closed(reason, routine: balancerCheck && reason == CloseOutcome.HandshakeFailed && SocketErrors.IsRoutine(ex));
    }
}
