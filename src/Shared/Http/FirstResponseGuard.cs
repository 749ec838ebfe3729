using Tunnel.Net;

namespace Tunnel.Http;

/// <summary>Reads the answering side of a connection that carries a proxy request: on tunnel-client the tunnel to the
/// server, on tunnel-server the upstream proxy. If it fails or ends before the first response byte, the reader sees an
/// HTTP 502 with the reason instead of a bare close, which Squid would turn into "200 Connection established" followed
/// by a TLS error for the user. After the first byte it is a plain pass-through.</summary>
/// <param name="inner">The answering side's stream.</param>
/// <param name="explain">The reason for the 502: given null when the stream ended without a byte, else the error.</param>
/// <param name="onNoAnswer">Told the reason when the 502 is made (for the log).</param>
internal sealed class FirstResponseGuard(Stream inner, Func<Exception?, string> explain, Action<string> onNoAnswer) : ReadWrappingStream(inner)
{
    private bool _answered;
    private byte[]? _synthetic;
    private int _offset;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_answered)
        {
            return await Inner.ReadAsync(buffer, cancellationToken);
        }

        if (_synthetic is null)
        {
            try
            {
                var read = await Inner.ReadAsync(buffer, cancellationToken);
                if (read > 0)
                {
                    _answered = true;
                    return read;
                }

                if (buffer.IsEmpty)
                {
                    return 0; // A zero-byte read completed: data or end of stream is ready.
                }

                Answer(explain(null));
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Answer(explain(ex));
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

    /// <summary>True once the reader was given a 502 instead of a response.</summary>
    public bool Answered502 => _synthetic is not null;

    private void Answer(string reason)
    {
        _synthetic = ProxyErrorResponse.Build(ProxyErrorResponse.BadGateway, reason);
        onNoAnswer(reason);
    }
}
