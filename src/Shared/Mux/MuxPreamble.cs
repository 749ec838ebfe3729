using System.Text;
using Tunnel.Relay;

namespace Tunnel.Mux;

/// <summary>How a TLS connection becomes multiplexed: the client sends <see cref="MuxProtocol.Preamble"/> as its first
/// bytes; a tunnel-server that takes it up answers <see cref="MuxProtocol.Acknowledgement"/>, and anything else (stunnel
/// relaying the preamble to Squid, a server too old) answers otherwise or closes.</summary>
internal static class MuxPreamble
{
    /// <summary>Client side: sends the preamble on a fresh TLS connection and waits for the server's acknowledgement.
    /// Throws <see cref="MuxNotSupportedException"/> when the server answers anything else or closes.</summary>
    public static async Task ExchangeAsync(TlsEndpoint transport, CancellationToken cancellationToken)
    {
        await transport.Stream.WriteAsync(MuxProtocol.Preamble.ToArray(), cancellationToken);
        var answer = new byte[MuxProtocol.Acknowledgement.Length];
        var read = 0;
        while (read < answer.Length)
        {
            var n = await transport.Stream.ReadAsync(answer.AsMemory(read), cancellationToken);
            if (n == 0)
            {
                throw new MuxNotSupportedException(read == 0
                    ? "it closed the connection instead of answering the multiplexing preamble"
                    : $"it answered '{Printable(answer.AsSpan(0, read))}' and closed");
            }

            read += n;
            if (!MuxProtocol.Acknowledgement.StartsWith(answer.AsSpan(0, read)))
            {
                throw new MuxNotSupportedException($"it answered '{Printable(answer.AsSpan(0, read))}...' instead of acknowledging the multiplexing preamble");
            }
        }
    }

    /// <summary>Server side: the acknowledgement, in a pooled buffer for the session's writer.</summary>
    public static byte[] Acknowledgement()
    {
        var ack = BufferPool.Shared.Rent(MuxProtocol.Acknowledgement.Length);
        MuxProtocol.Acknowledgement.CopyTo(ack);
        return ack;
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            text.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
        }

        return text.ToString();
    }
}
