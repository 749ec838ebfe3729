using System.Collections.Concurrent;
using Tunnel.Common;

namespace Tunnel.Tls;

/// <summary>Encoded TLS sessions by session ID, each with the chain its full handshake verified (<see cref="VerifiedSessions"/>).
/// Bounded: a session leaves when it expires, when removed, and oldest first when the store is full.</summary>
internal sealed class SessionStore
{
    private readonly ConcurrentDictionary<byte[], Slot> _entries = new(BytesComparer.Instance);
    private long _added;

    public int Count => _entries.Count;

    /// <summary>Sessions kept (<c>sessionCacheSize</c>).</summary>
    public int Capacity { get; set; } = Defaults.SessionCacheSize;

    /// <summary>Stores <paramref name="entry"/>; when <see cref="Capacity"/> sessions are already stored, first drops the
    /// expired ones and, if that is not enough, the oldest, down to nine tenths of it: one sort per tenth of a full
    /// store's worth of new sessions, not one per session. Returns how many unexpired sessions it dropped (evicted:
    /// their clients will make a full handshake).</summary>
    public int Add(byte[] id, Entry entry, long now)
    {
        var capacity = Capacity;
        var evicted = _entries.Count >= capacity ? Trim(capacity, now) : 0;
        _entries[id] = new Slot(entry, Interlocked.Increment(ref _added));
        return evicted;
    }

    /// <summary>The session stored under <paramref name="id"/> and not expired at <paramref name="now"/>, or null (an
    /// expired one is dropped).</summary>
    public Entry? Find(ReadOnlySpan<byte> id, long now)
    {
        var lookup = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (!lookup.TryGetValue(id, out var slot))
        {
            return null;
        }

        if (slot.Entry.Expires <= now)
        {
            lookup.TryRemove(id, out _);
            return null;
        }

        return slot.Entry;
    }

    public void Remove(ReadOnlySpan<byte> id) => _entries.GetAlternateLookup<ReadOnlySpan<byte>>().TryRemove(id, out _);

    /// <summary>Drops every session expired at <paramref name="now"/>.</summary>
    public void DropExpired(long now)
    {
        foreach (var (key, old) in _entries)
        {
            if (old.Entry.Expires <= now)
            {
                _entries.TryRemove(key, out _);
            }
        }
    }

    private int Trim(int capacity, long now)
    {
        DropExpired(now);

        var evicted = 0;
        var excess = _entries.Count - (capacity - (capacity / 10) - 1);
        if (excess > 0)
        {
            // First stored first. Not by expiry: sessions carry the timeout they were made with, which a reload changes,
            // and expiries count whole seconds, so ordering by them dropped sessions stored a moment before at random.
            foreach (var (key, _) in _entries.OrderBy(e => e.Value.Added).Take(excess).ToList())
            {
                evicted += _entries.TryRemove(key, out _) ? 1 : 0;
            }
        }

        return evicted;
    }

    /// <summary>One stored session: its encoding (without the peer's certificate when <paramref name="Chain"/> is set),
    /// the chain its full handshake verified, and when it expires (Unix seconds, OpenSSL's own time and timeout).</summary>
    internal sealed record Entry(byte[] Session, VerifiedChain? Chain, long Expires);

    /// <summary>An entry and when it was stored, as a count of the entries stored before it.</summary>
    private readonly record struct Slot(Entry Entry, long Added);
}
