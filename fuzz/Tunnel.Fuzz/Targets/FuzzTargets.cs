using System.Net.Sockets;
using System.Text;
using Tunnel.Admin;
using Tunnel.Common;
using Tunnel.Http;
using Tunnel.Mux;
using Tunnel.Net;
using Tunnel.Net.ProxyProtocol;
using Tunnel.Tls;

namespace Tunnel.Fuzz;

/// <summary>Thrown by a fuzz target when a parser broke its contract: an exception it does not document, a value that
/// does not survive a round trip, or a hang. Any other exception escaping a target is a finding too.</summary>
internal sealed class FuzzFindingException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One fuzz target per parser of untrusted bytes, selected by name. Each takes any bytes and returns when the
/// parser answered as documented (a value, or its documented exception); anything else escapes as an exception, which
/// libFuzzer reports as a crash and the test suite as a failure.</summary>
internal static class FuzzTargets
{
    /// <summary>Per-input bound for the targets that run a session: a parser that has not answered by then hangs.</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(5);

    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["proxy-header"] = ProxyHeader,
        ["mux-frames"] = MuxFrames,
        ["mux-preamble"] = MuxPreamble,
        ["http-sniff"] = HttpSniff,
        ["crl"] = Crl,
        ["identity"] = Identity,
        ["duration"] = Duration,
        ["host-port"] = HostPortText,
        ["admin-request"] = AdminRequestHead,
    };

    /// <summary>PROXY protocol v1 and v2 (<see cref="ProxyHeaderParser.TryParse"/>, in each mode): never throws;
    /// Complete means a header no longer than the input; Incomplete only below <see cref="ProxyHeaderParser.MaxLength"/>;
    /// a parsed address written back (<see cref="ProxyHeaderWriter"/>) parses to the same header.</summary>
    public static void ProxyHeader(byte[] data)
    {
        foreach (var mode in new[] { ProxyProtocolMode.V1, ProxyProtocolMode.V2, ProxyProtocolMode.Any })
        {
            var status = ProxyHeaderParser.TryParse(data, mode, out var header, out var error);
            switch (status)
            {
                case ProxyParseStatus.Complete:
                    if (header is null || header.Length <= 0 || header.Length > data.Length || header.Length > ProxyHeaderParser.MaxLength)
                    {
                        throw new FuzzFindingException($"{mode}: Complete with header length {header?.Length} for {data.Length} bytes");
                    }

                    if (header.Source is { } source && header.Destination is { } destination)
                    {
                        var written = ProxyHeaderWriter.Build(header.Version, source, destination);
                        var again = ProxyHeaderParser.TryParse(written, mode, out var reparsed, out var againError);
                        if (again != ProxyParseStatus.Complete || !Equals(reparsed!.Source, source) || !Equals(reparsed.Destination, destination)
                            || reparsed.Length != written.Length)
                        {
                            throw new FuzzFindingException($"{mode}: {source} -> {destination} does not survive a round trip ({again}: {againError})");
                        }
                    }

                    break;
                case ProxyParseStatus.Incomplete:
                    if (data.Length >= ProxyHeaderParser.MaxLength)
                    {
                        throw new FuzzFindingException($"{mode}: Incomplete after {data.Length} bytes");
                    }

                    break;
                case ProxyParseStatus.Invalid:
                    if (string.IsNullOrEmpty(error))
                    {
                        throw new FuzzFindingException($"{mode}: Invalid without a reason");
                    }

                    break;
                default:
                    throw new FuzzFindingException($"{mode}: status {status}");
            }
        }
    }

    /// <summary>The multiplexing frame reader, through its server entry point <see cref="MuxSession.Accept"/> on a
    /// real TLS connection: the input follows the preamble on the wire, then the client ends its side. The session
    /// must end within <see cref="HangLimit"/>, cleanly or with <see cref="MuxProtocolException"/> (or an I/O error of
    /// the transport), never with another exception.</summary>
    public static void MuxFrames(byte[] data) => RunAsync(() => MuxFramesAsync(data));

    private static async Task MuxFramesAsync(byte[] data)
    {
        await using var pair = await LoopbackTls.ConnectAsync();
        using var deadline = new CancellationTokenSource(HangLimit);
        var drain = DrainAsync(pair.Client.Stream, deadline.Token);
        var session = MuxSession.Accept(pair.Server, ReadOnlyMemory<byte>.Empty, maxStreams: 4, static async stream =>
        {
            await using (stream)
            {
                var buffer = new byte[4096];
                try
                {
                    while (await stream.ReadAsync(buffer) > 0)
                    {
                    }
                }
                catch (IOException)
                {
                    // Reset by the peer or the session's end: documented.
                }
            }
        }, TimeProvider.System);
        await using (session)
        {
            try
            {
                await pair.Client.Stream.WriteAsync(data, deadline.Token);
                await pair.Client.CompleteWritesAsync(deadline.Token);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                // The server gave up on the input before it was all sent: fine, if it says why below.
            }

            try
            {
                await session.Closed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new FuzzFindingException($"the multiplexed session did not end within {HangLimit.TotalSeconds} s of the input's end");
            }

            if (session.Error is { } error and not (MuxProtocolException or IOException or SocketException))
            {
                throw new FuzzFindingException($"the frame reader failed with {error.GetType().Name}", error);
            }
        }

        await drain;
    }

    /// <summary>The client's reading of the server's answer to its preamble (<see cref="MuxSession.ConnectAsync"/>):
    /// the input is what the "server" sends back. Either a session (the input began with the acknowledgement; the
    /// rest goes to the client's frame reader, which must end as <see cref="MuxFrames"/> says) or
    /// <see cref="MuxNotSupportedException"/>, within <see cref="HangLimit"/>.</summary>
    public static void MuxPreamble(byte[] data) => RunAsync(() => MuxPreambleAsync(data));

    private static async Task MuxPreambleAsync(byte[] data)
    {
        await using var pair = await LoopbackTls.ConnectAsync();
        using var deadline = new CancellationTokenSource(HangLimit);
        var answer = Task.Run(async () =>
        {
            var preamble = new byte[MuxProtocol.Preamble.Length];
            await pair.Server.Stream.ReadExactlyAsync(preamble, deadline.Token);
            await pair.Server.Stream.WriteAsync(data, deadline.Token);
            await pair.Server.CompleteWritesAsync(deadline.Token);
        });
        MuxSession? session = null;
        try
        {
            session = await MuxSession.ConnectAsync(pair.Client, maxStreams: 4, TimeProvider.System, deadline.Token);
            await session.Closed.WaitAsync(deadline.Token);
            if (session.Error is { } error and not (MuxProtocolException or IOException or SocketException))
            {
                throw new FuzzFindingException($"the client's frame reader failed with {error.GetType().Name}", error);
            }
        }
        catch (MuxNotSupportedException)
        {
            // Documented: not an acknowledgement.
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new FuzzFindingException($"the client did not settle the server's answer within {HangLimit.TotalSeconds} s");
        }
        finally
        {
            if (session is not null)
            {
                await session.DisposeAsync();
            }
        }

        try
        {
            await answer;
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            // The client closed first.
        }
    }

    /// <summary>The first-request sniffing that decides between an HTTP 502/503 and a reset
    /// (<see cref="ProxyRequest.IsProxyRequest"/>): never throws, and says yes only to an upper-case method followed by
    /// a space; the first-response guard passes any answer through unchanged, and turns none into a 502.</summary>
    public static void HttpSniff(byte[] data)
    {
        var isProxy = ProxyRequest.IsProxyRequest(data);
        if (isProxy)
        {
            var space = Array.IndexOf(data, (byte)' ');
            if (space <= 0 || data.AsSpan(0, space).ContainsAnyExceptInRange((byte)'A', (byte)'Z'))
            {
                throw new FuzzFindingException("a proxy request without an upper-case method");
            }
        }

        using var inner = new MemoryStream(data, writable: false);
        string? reason = null;
        using var guard = new FirstResponseGuard(inner, ex => ex is null ? "closed" : ex.Message, r => reason = r);
        using var copy = new MemoryStream();
        guard.CopyTo(copy);
        var seen = copy.ToArray();
        if (data.Length > 0 ? !seen.AsSpan().SequenceEqual(data) || guard.Answered502 : !guard.Answered502 || reason != "closed"
            || !seen.AsSpan().StartsWith("HTTP/1.1 502 "u8))
        {
            throw new FuzzFindingException($"the first-response guard turned {data.Length} bytes into {seen.Length} (502: {guard.Answered502})");
        }
    }

    /// <summary>CRLs (<see cref="CertificateRevocationList.Parse"/> on DER, <see cref="CertificateRevocationList.LoadFile"/>
    /// on a file holding the input): a list or <see cref="CertificateLoadException"/>.</summary>
    public static void Crl(byte[] data)
    {
        try
        {
            _ = CertificateRevocationList.Parse(data, "fuzz");
        }
        catch (CertificateLoadException)
        {
        }

        var file = Scratch.PathFor("crl.pem");
        File.WriteAllBytes(file, data);
        try
        {
            _ = CertificateRevocationList.LoadFile(file);
        }
        catch (CertificateLoadException)
        {
        }
    }

    /// <summary>Certificate and key files (<see cref="IdentityLoader.Load"/>, PEM): the input's first byte picks the
    /// file it replaces (even: the certificate, beside a valid key; odd: the key, beside a valid certificate; a
    /// multiple of 4: both, as one file). A loaded identity or <see cref="CertificateLoadException"/>.</summary>
    public static void Identity(byte[] data)
    {
        var (validCert, validKey) = Scratch.ValidIdentity();
        var selector = data.Length > 0 ? data[0] : 0;
        var body = data.Length > 0 ? data.AsSpan(1).ToArray() : data;
        var cert = Scratch.PathFor("cert.pem");
        var key = Scratch.PathFor("key.pem");
        string? keyPath = key;
        if (selector % 4 == 0)
        {
            File.WriteAllBytes(cert, body);
            keyPath = null;
        }
        else if (selector % 2 == 0)
        {
            File.WriteAllBytes(cert, body);
            File.Copy(validKey, key, overwrite: true);
        }
        else
        {
            File.Copy(validCert, cert, overwrite: true);
            File.WriteAllBytes(key, body);
        }

        File.SetUnixFileMode(cert, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        if (keyPath is not null)
        {
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        try
        {
            var identity = IdentityLoader.Load(new IdentityOptions(cert, keyPath, null, null, null), TimeProvider.System);
            identity.Certificate.Dispose();
        }
        catch (CertificateLoadException)
        {
        }
    }

    /// <summary>Durations (<see cref="Durations.TryParse"/>): never throws; a value in whole milliseconds survives
    /// <see cref="Durations.Format"/> and back.</summary>
    public static void Duration(byte[] data)
    {
        var text = Encoding.UTF8.GetString(data);
        foreach (var allowDisabled in new[] { false, true })
        {
            if (!Durations.TryParse(text, allowDisabled, out var value))
            {
                continue;
            }

            if (value.Value == Timeout.InfiniteTimeSpan)
            {
                if (!allowDisabled)
                {
                    throw new FuzzFindingException($"'{text}' disabled a duration that may not be");
                }

                continue;
            }

            if (value.Value <= TimeSpan.Zero)
            {
                throw new FuzzFindingException($"'{text}' parsed to {value.Value}");
            }

            if (value.Value.Ticks % TimeSpan.TicksPerMillisecond == 0)
            {
                var formatted = Durations.Format(value.Value);
                if (!Durations.TryParse(formatted, allowDisabled, out var again) || again.Value != value.Value)
                {
                    throw new FuzzFindingException($"'{text}' = {value.Value} formats as '{formatted}', which parses to {again}");
                }
            }
        }
    }

    /// <summary>host:port (<see cref="HostPort.TryParse"/>, how every address in the configuration is read): never
    /// throws; a parsed address written back parses to the same address.</summary>
    public static void HostPortText(byte[] data)
    {
        var text = Encoding.UTF8.GetString(data);
        if (!HostPort.TryParse(text, out var value, out var error))
        {
            if (string.IsNullOrEmpty(error))
            {
                throw new FuzzFindingException("refused without a reason");
            }

            return;
        }

        if (value.Value.Port is < 0 or > 65535)
        {
            throw new FuzzFindingException($"port {value.Value.Port}");
        }

        var written = value.Value.ToString();
        if (!HostPort.TryParse(written, out var again, out var againError) || again.Value != value.Value)
        {
            throw new FuzzFindingException($"'{text}' = ({value.Value.Host}, {value.Value.Port}) writes as '{written}', which reads as {again?.ToString() ?? againError}");
        }

        _ = value.Value.TryGetBindAddress(out _);
    }

    /// <summary>The admin endpoint's request heads (<see cref="AdminRequest.HeadLength"/>, <see cref="AdminRequest.Parse"/>):
    /// never throw; a head length within the input, ending with its line feed; a head that can be served has a method
    /// with no space and a path that starts with '/' and carries no query, fragment or space; otherwise 400 or 505.</summary>
    public static void AdminRequestHead(byte[] data)
    {
        var length = AdminRequest.HeadLength(data);
        if (length < -1 || length == 0 || length > data.Length || (length > 0 && data[length - 1] != '\n'))
        {
            throw new FuzzFindingException($"head length {length} for {data.Length} bytes");
        }

        foreach (var head in length > 0 ? new[] { data.AsSpan(0, length).ToArray(), data } : [data])
        {
            var request = AdminRequest.Parse(head);
            switch (request.Error)
            {
                case 0:
                    if (request.Method.Length == 0 || request.Method.Contains(' ', StringComparison.Ordinal) || !request.Path.StartsWith('/')
                        || request.Path.IndexOfAny(['?', '#', ' ']) >= 0)
                    {
                        throw new FuzzFindingException($"served '{request.Method}' '{request.Path}'");
                    }

                    break;
                case 400 or 505:
                    break;
                default:
                    throw new FuzzFindingException($"status {request.Error}");
            }
        }
    }

    private static async Task DrainAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (await stream.ReadAsync(buffer, cancellationToken) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Runs an asynchronous target to completion on the thread pool (libFuzzer calls targets synchronously).</summary>
    private static void RunAsync(Func<Task> target) => Task.Run(target).GetAwaiter().GetResult();
}

/// <summary>Files the targets write their input to, in one private folder per process, and a valid certificate and
/// key to pair them with.</summary>
internal static class Scratch
{
    private static readonly Lazy<string> Folder = new(() =>
    {
        var folder = Directory.CreateTempSubdirectory("tunnel-fuzz-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return folder;
    });

    private static readonly Lazy<(string Cert, string Key)> Valid = new(() =>
    {
        var (cert, key) = LoopbackTls.SelfSignedPem();
        var certPath = Path.Combine(Folder.Value, "valid-cert.pem");
        var keyPath = Path.Combine(Folder.Value, "valid-key.pem");
        File.WriteAllText(certPath, cert);
        File.WriteAllText(keyPath, key);
        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (certPath, keyPath);
    });

    /// <summary>A path in the scratch folder, per thread (property tests may run targets in parallel).</summary>
    public static string PathFor(string name) => Path.Combine(Folder.Value, $"{Environment.CurrentManagedThreadId}-{name}");

    public static (string Cert, string Key) ValidIdentity() => Valid.Value;
}
