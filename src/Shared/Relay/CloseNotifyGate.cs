using System.Net.Security;
using Tunnel.Net;

namespace Tunnel.Relay;

/// <summary>Keeps a TLS connection's close_notify from being made while the same connection is decrypting a record
/// it received.</summary>
/// <remarks>
/// <para>On Linux, <see cref="SslStream.ShutdownAsync"/> calls OpenSSL's <c>SSL_shutdown</c> twice, and the second
/// call (the bidirectional shutdown) reads whatever records wait in the connection's input. A relay half-closes one
/// direction while the other is still reading, so without this gate two threads drive one <c>SSL</c> object's read
/// side at once: the read fails with "decryption failed or bad record mac", the shutdown with SSL_ERROR_SYSCALL, or
/// the shutdown swallows a record that the read never delivers.</para>
/// <para>SslStream hands received bytes to OpenSSL only after a read of its transport returned them, and it is done
/// with them when it reads the transport again or returns to its caller. Once the application has read (the handshake
/// is over), the transport view takes the gate when a read returns bytes; the next transport read or the return of
/// the application's read gives it back. That window is
/// synchronous work (a decrypt), never a wait for the network. <c>SSL_shutdown</c> runs synchronously inside
/// <see cref="SslStream.ShutdownAsync"/> before the alert is written, so the shutdown holds the gate for that call
/// only, not for the write.</para>
/// </remarks>
#pragma warning disable CA1001 // A SemaphoreSlim whose wait handle is never asked for holds nothing to dispose.
internal sealed class CloseNotifyGate
#pragma warning restore CA1001
{
    private readonly SemaphoreSlim _lock = new(1, 1);

    // Touched only by the reading flow, which SslStream keeps to one read at a time. Armed by the application's
    // first read, so that the handshake's reads take nothing.
    private bool _armed;
    private bool _readerHolds;

    /// <summary>The stream SslStream is to read and write: <paramref name="transport"/> with the gate on its reads.
    /// Disposing it disposes <paramref name="transport"/>.</summary>
    public Stream Transport(Stream transport) => new TransportView(transport, this);

    /// <summary>The stream the application reads and writes: <paramref name="tls"/> (the SslStream over
    /// <see cref="Transport"/>), giving the gate back when a read returns.</summary>
    public Stream Reads(Stream tls) => new ReadView(tls, this);

    /// <summary>Sends close_notify (<paramref name="shutdown"/>: <see cref="SslStream.ShutdownAsync"/>) once no
    /// received record is being decrypted.</summary>
    public async Task ShutdownAsync(Func<Task> shutdown, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        Task alert;
        try
        {
            alert = shutdown();
        }
        finally
        {
            _lock.Release();
        }

        await alert.WaitAsync(cancellationToken);
    }

    private async ValueTask EnterReadAsync()
    {
        if (!_lock.Wait(0))
        {
            await _lock.WaitAsync();
        }

        _readerHolds = true;
    }

    private void ExitRead()
    {
        if (_readerHolds)
        {
            _readerHolds = false;
            _lock.Release();
        }
    }

    private sealed class TransportView(Stream transport, CloseNotifyGate gate) : ReadWrappingStream(transport, ownsInner: true)
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            gate.ExitRead();
            var read = await Inner.ReadAsync(buffer, cancellationToken);
            if (read > 0 && gate._armed)
            {
                await gate.EnterReadAsync();
            }

            return read;
        }
    }

    private sealed class ReadView(Stream tls, CloseNotifyGate gate) : ReadWrappingStream(tls)
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            gate._armed = true;
            try
            {
                return await Inner.ReadAsync(buffer, cancellationToken);
            }
            finally
            {
                gate.ExitRead();
            }
        }
    }
}
