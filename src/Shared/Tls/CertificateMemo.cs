using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Tunnel.Common;

namespace Tunnel.Tls;

/// <summary>Remembers what was worked out from a peer certificate's bytes alone (its usage extensions, its short name,
/// whether it names the expected server), so that the next handshake presenting the same certificate does not decode
/// it again. A fleet's clients present the same certificate on every connection; decoding its extensions and names
/// cost about as much CPU as SslStream's own chain check of it.</summary>
/// <remarks>Keyed by the certificate's whole DER encoding (compared byte for byte, not by a hash of it), so a value is
/// only ever reused for an identical certificate. Only facts that follow from those bytes and from the snapshot that
/// holds the memo belong here: chain trust, validity dates, revocation and the allow-list are judged on every handshake.
/// Bounded: once it holds <c>capacity</c> certificates it starts again from empty.</remarks>
internal sealed class CertificateMemo<T>(int capacity = CertificateMemo.DefaultCapacity)
{
    private readonly ConcurrentDictionary<byte[], T> _known = new(BytesComparer.Instance);

    public int Count => _known.Count;

    /// <summary>The value for <paramref name="certificate"/>, computed by <paramref name="compute"/> the first time
    /// (and again if two handshakes race for it, or after the memo was emptied).</summary>
    public T GetOrAdd<TArg>(X509Certificate2 certificate, TArg argument, Func<X509Certificate2, TArg, T> compute)
    {
        var der = certificate.RawDataMemory.Span;
        if (_known.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(der, out var known))
        {
            return known;
        }

        var value = compute(certificate, argument);
        if (_known.Count >= capacity)
        {
            _known.Clear();
        }

        _known[der.ToArray()] = value;
        return value;
    }
}

/// <summary>Defaults shared by every <see cref="CertificateMemo{T}"/>.</summary>
internal static class CertificateMemo
{
    /// <summary>Distinct certificates remembered before starting again: a few hundred KiB at most, and a fleet with more
    /// clients than that only loses the saving, not correctness.</summary>
    public const int DefaultCapacity = 256;
}
