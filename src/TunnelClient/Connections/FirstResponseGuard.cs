using Tunnel.Http;
using Tunnel.Net;

namespace Tunnel.Client.Connections;

/// <summary>Reads from the server side of a tunnel that carries a proxy request. If the tunnel fails or ends before
/// the first response byte (the server refused this client's certificate, or died), the reader sees an HTTP 502 with
/// the reason instead of a bare close, which Squid would turn into "200 Connection established" followed by a TLS
/// error for the user. After the first byte it is a plain pass-through.</summary>
internal sealed class FirstResponseGuard(Stream inner, string server, Action<string> onNoAnswer) : Stream
{
    private bool _answered;
    private byte[]? _synthetic;
    private int _offset;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_answered)
        {
            return await inner.ReadAsync(buffer, cancellationToken);
        }

        if (_synthetic is null)
        {
            try
            {
                var read = await inner.ReadAsync(buffer, cancellationToken);
                if (read > 0)
                {
                    _answered = true;
                    return read;
                }

                if (buffer.IsEmpty)
                {
                    return 0; // A zero-byte read completed: data or end of stream is ready.
                }

                Answer(ClosedWithoutAnswer);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Answer(Explain(ex));
                if (buffer.IsEmpty)
                {
                    return 0;
                }
            }
        }

        var count = Math.Min(buffer.Length, _synthetic!.Length - _offset);
        _synthetic.AsMemory(_offset, count).CopyTo(buffer);
        _offset += count;
        return count;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(buffer, cancellationToken);

    /// <summary>True once the reader was given a 502 instead of a response.</summary>
    public bool Answered502 => _synthetic is not null;

    private void Answer(string reason)
    {
        _synthetic = ProxyErrorResponse.Build(ProxyErrorResponse.BadGateway, reason);
        onNoAnswer(reason);
    }

    /// <summary>tunnel-server refuses a client certificate by closing without an alert (nothing for a prober to
    /// fingerprint), so an early close is most often a refused certificate.</summary>
    private string ClosedWithoutAnswer =>
        $"tunnel-server {server} closed the tunnel without answering: it does this when it refuses the client certificate " +
        "(check this client's certificate, its CA and the server's allow-list; the server log names the reason)";

    private string Explain(Exception ex) => ex switch
    {
        _ when IsTimeout(ex) => $"tunnel-server {server} stopped acknowledging data (the path went silent: a firewall or NAT " +
            "dropping the flow); the next connection will use another path or report the server down",
        _ when SocketErrors.IsRoutine(ex) => ClosedWithoutAnswer,
        _ => $"tunnel to tunnel-server {server} failed before the upstream proxy answered: {SocketErrors.Describe(ex)}",
    };

    private static bool IsTimeout(Exception ex) => ex switch
    {
        System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.TimedOut } => true,
        { InnerException: { } inner } => IsTimeout(inner),
        _ => false,
    };

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, offset, count, cancellationToken);
}
